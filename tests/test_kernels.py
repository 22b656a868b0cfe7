"""Kernels: the spec language, named kernels against published values, files, adjustments."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi

from convtool import imaging
from convtool.engine import convolve
from convtool.errors import KernelError, UsageError
from convtool.kernels import (
    MAX_KERNEL_SIDE,
    NAMED_KERNELS,
    Kernel,
    adjust_kernel,
    disk_kernel,
    flip_kernel,
    gaussian_kernel,
    gradient_kernel,
    load_kernel,
    log_kernel,
    mean_kernel,
    motion_kernel,
    normalize_kernel,
    parse_kernel,
    parse_size,
    response_bound,
    unsharp_kernel,
)
from convtool.pipeline import FilterJob, apply_job, channel_indices, parse_channels

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]

# --------------------------------------------------------------------------
# Spec forms
# --------------------------------------------------------------------------


@pytest.mark.parametrize("spec, expected", [
    ("gaussian:2", gaussian_kernel(2.0).array),
    ("gaussian:sigma=2,radius=6", gaussian_kernel(2.0, 6).array),
    ("gaussian: sigma = 2 , radius = 6", gaussian_kernel(2.0, 6).array),
    ("GAUSSIAN:2", gaussian_kernel(2.0).array),
    # WIDTHxHEIGHT in specs, (height, width) in the API: sigma_x=3, sigma_y=1.
    ("gaussian:3x1", gaussian_kernel((1.0, 3.0)).array),
    ("gaussian:sigma=3x1,radius=5x2", gaussian_kernel((1.0, 3.0), (2, 5)).array),
    ("mean:5", mean_kernel(5).array),
    ("mean:7x3", np.full((3, 7), 1 / 21)),
    ("box:7x3", np.full((3, 7), 1 / 21)),
    ("mean:size=4", np.full((4, 4), 1 / 16)),
    ("identity", np.array([[1.0]])),
    ("sharpen", np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])),
    ("emboss", np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])),
    ("laplacian", np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])),
    ("laplacian:4", np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])),
    ("laplacian:neighbours=8", np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]])),
    # Published values: Sobel x = [1 2 1]^T [1 0 -1].
    ("sobel-x", np.outer([1, 2, 1], [1, 0, -1])),
    ("sobel-y", np.outer([1, 0, -1], [1, 2, 1])),
    ("scharr-x", np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]])),
    ("scharr-y", np.array([[3, 10, 3], [0, 0, 0], [-3, -10, -3]])),
    ("prewitt-x", np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])),
    ("prewitt-y", np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]])),
    ("disk:1", np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]) / 5),
    ("disk:radius=1.5", np.ones((3, 3)) / 9),
    ("motion:5", np.full((1, 5), 0.2)),
    ("motion:length=5,angle=90", np.full((5, 1), 0.2)),
    ("motion:length=3,angle=180", np.full((1, 3), 1 / 3)),
    ("motion:1", np.array([[1.0]])),
    ("1 2 1; 2 4 2; 1 2 1", np.outer([1, 2, 1], [1, 2, 1])),
    ("1,2;3,4;", np.array([[1, 2], [3, 4]])),
    ("-1 0 1", np.array([[-1, 0, 1]])),
    ("0.5, -0.25 ,1e-1", np.array([[0.5, -0.25, 0.1]])),
])
def test_spec_forms(spec, expected):
    k = parse_kernel(spec)
    assert isinstance(k, Kernel)
    np.testing.assert_allclose(k.array, expected, rtol=1e-12, atol=1e-15)


def test_every_named_kernel_parses_from_its_examples():
    for entry in NAMED_KERNELS.values():
        for example in entry.example.split(", "):
            k = parse_kernel(example)
            assert k.array.ndim == 2 and np.all(np.isfinite(k.array)), example


def test_kernel_carries_factors_name_and_sum():
    k = parse_kernel("sobel-x")
    assert k.separable and k.name == "sobel-x" and k.sum == 0.0 and k.zero_sum
    column, row = k.factors
    np.testing.assert_array_equal(column, [1, 2, 1])
    np.testing.assert_array_equal(row, [1, 0, -1])
    g = parse_kernel("gaussian:3x1")
    assert g.shape == (9, 25) and g.separable and math.isclose(g.sum, 1.0)
    np.testing.assert_allclose(np.outer(*g.factors), g.array, atol=1e-15)
    assert not parse_kernel("laplacian").separable
    assert "3x1" in g.name


def test_a_kernel_passes_through():
    k = mean_kernel(3)
    assert parse_kernel(k) is k


@pytest.mark.parametrize("spec, message", [
    ("", "empty kernel spec"),
    ("   ", "empty kernel spec"),
    ("gausian:2", "unknown kernel 'gausian': did you mean 'gaussian'?"),
    ("sobelx", "did you mean 'sobel-x'?"),
    ("blurry", "unknown kernel 'blurry'"),
    ("gaussian", "gaussian needs sigma, e.g. gaussian:2"),
    ("gaussian:", "gaussian needs sigma"),
    ("gaussian:radius=3", "gaussian needs sigma"),
    ("gaussian:-1", "sigma must be a finite number >= 0, got '-1'"),
    ("gaussian:nan", "sigma must be a finite number >= 0, got 'nan'"),
    ("gaussian:inf", "sigma must be a finite number >= 0, got 'inf'"),
    ("gaussian:two", "sigma must be a number, got 'two'"),
    ("gaussian:3x", "sigma must be a number, got ''"),
    ("gaussian:1x2x3", "is not a number or WIDTHxHEIGHT"),
    ("gaussian:sigm=2", "unknown parameter 'sigm' (it takes sigma, radius"),
    ("gaussian:2,3,4", "too many values"),
    ("gaussian:sigma=2,sigma=3", "sigma given twice"),
    ("gaussian:2,radius=", "empty value for radius"),
    ("gaussian:2,radius=-1", "radius must be a whole number >= 0"),
    ("gaussian:2,radius=1.5", "radius must be a whole number >= 0"),
    ("gaussian:5000", "too large"),
    ("gaussian:1000", "too large"),
    ("mean:0", "size must be a whole number >= 1, got '0'"),
    ("mean:0x3", "size must be a whole number >= 1, got '0'"),
    ("mean:2.5", "size must be a whole number >= 1"),
    ("mean:100000", "too large"),
    ("mean:16000x16000", "too large"),
    ("box", "box needs size"),
    ("sobel-x:3", "sobel-x takes no parameters, got '3'"),
    ("identity:1", "identity takes no parameters"),
    ("laplacian:6", "neighbours must be 4 or 8, got 6"),
    ("disk:0", "radius must be a positive finite number"),
    ("disk:2x3", "radius must be a number, got '2x3'"),
    ("log:2x1", "sigma must be a number, got '2x1'"),
    ("disk:-2", "radius must be a positive finite number"),
    ("motion:angle=30", "motion needs length"),
    ("motion:0", "length must be a positive finite number"),
    ("motion:5,nan", "angle must be a finite number"),
    ("motion:1e9", "too large"),
    ("log:0", "sigma must be a positive finite number"),
    ("1 2 1; 2 4; 1 2 1", "row 2: 2 values, but row 1 has 3: every row needs the same number"),
    ("1 2 a", "row 1: 'a' is not a number"),
    ("1 nan 1", "'nan' is not a finite number"),
    ("1 2;;3 4", "row 2 is empty"),
    ("no/such/kernel.txt", "no such file"),
    ("@missing.txt", "kernel file missing.txt: no such file"),
])
def test_spec_errors_name_the_problem(spec, message):
    with pytest.raises(KernelError) as info:
        parse_kernel(spec)
    assert message in str(info.value)
    assert isinstance(info.value, UsageError)  # exit code 2


def test_spec_must_be_a_string():
    with pytest.raises(KernelError, match="must be a string"):
        parse_kernel(3)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def test_files_by_at_and_by_path(tmp_path, monkeypatch):
    text = tmp_path / "k.txt"
    text.write_text("# a comment\n1 2\n3 4\n")
    csv = tmp_path / "k.csv"
    csv.write_text("1,2\n3,4\n")
    npy = tmp_path / "k.npy"
    np.save(npy, np.array([[1.0, 2.0], [3.0, 4.0]]))
    expected = np.array([[1, 2], [3, 4]])
    for spec in (f"@{text}", str(text), f"@{csv}", str(csv), f"@{npy}", str(npy)):
        np.testing.assert_array_equal(parse_kernel(spec).array, expected)
    # A path without a suffix or folder is still a file if it exists...
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kern").write_text("1 2\n3 4\n")
    np.testing.assert_array_equal(parse_kernel("kern").array, expected)
    # ...but a name wins over a file of the same name; @ forces the file.
    (tmp_path / "sharpen").write_text("7\n")
    assert parse_kernel("sharpen").shape == (3, 3)
    np.testing.assert_array_equal(parse_kernel("@sharpen").array, [[7.0]])


def test_libvips_mat_file_scale_and_offset(tmp_path):
    mat = tmp_path / "blur.mat"
    mat.write_text('3 3 16 128\n1 2 1\n2\t4 2\n"1","2","1"\n')
    k = load_kernel(mat)
    np.testing.assert_allclose(k.array, np.outer([1, 2, 1], [1, 2, 1]) / 16)
    assert k.offset == pytest.approx(128 / 255)
    assert parse_kernel(f"@{mat}").offset == pytest.approx(128 / 255)
    plain = tmp_path / "plain.mat"
    plain.write_text("2 1\n1 -1\n")
    k = load_kernel(plain)
    np.testing.assert_array_equal(k.array, [[1, -1]])
    assert k.offset == 0.0
    # The offset survives normalising, scaling and flipping.
    k = adjust_kernel(load_kernel(mat), normalize="sum", scale=2, correlate=True)
    assert k.offset == pytest.approx(128 / 255)


@pytest.mark.parametrize("content, message", [
    ("3\n1 2 3\n", "the header must be 'width height [scale [offset]]'"),
    ("3 1 0\n1 2 3\n", "scale must not be 0"),
    ("3 2\n1 2 3\n", "the header says 2 rows, the file has 1"),
    ("2 1\n1 2 3\n", "the header says 2 columns, the rows have 3"),
    ("2.5 1\n1 2\n", "width must be a whole number >= 1"),
    ("3 2\n1 2 3\n4 5\n", "line 3: 2 values"),
    ("", "a .mat file starts with 'width height"),
])
def test_mat_file_errors(tmp_path, content, message):
    mat = tmp_path / "bad.mat"
    mat.write_text(content)
    with pytest.raises(KernelError, match=r"bad\.mat") as info:
        load_kernel(mat)
    assert message in str(info.value)


def test_binary_mat_file_is_a_clear_error(tmp_path):
    mat = tmp_path / "matlab.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file\xff\xfe\x00\x01")
    with pytest.raises(KernelError, match="libvips text matrices, not MATLAB"):
        load_kernel(mat)


# --------------------------------------------------------------------------
# Named kernels against references
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name, axis, oracle", [
    ("sobel", "x", lambda a: ndi.sobel(a, axis=1)),
    ("sobel", "y", lambda a: ndi.sobel(a, axis=0)),
    ("prewitt", "x", lambda a: ndi.prewitt(a, axis=1)),
    ("prewitt", "y", lambda a: ndi.prewitt(a, axis=0)),
])
def test_gradients_match_scipy(rng, name, axis, oracle):
    a = rng.standard_normal((12, 15))
    got = convolve(a, gradient_kernel(name, axis).array, mode="reflect")
    np.testing.assert_allclose(got, oracle(a), atol=1e-12)


def test_scharr_is_the_same_routine_with_3_10_3(rng):
    a = rng.standard_normal((10, 11))
    expected = ndi.correlate1d(ndi.correlate1d(a, [-1, 0, 1], axis=1), [3, 10, 3], axis=0)
    np.testing.assert_allclose(convolve(a, parse_kernel("scharr-x").array), expected,
                               atol=1e-12)


def test_laplacian_matches_scipy_laplace(rng):
    a = rng.standard_normal((9, 10))
    np.testing.assert_allclose(convolve(a, parse_kernel("laplacian").array), ndi.laplace(a),
                               atol=1e-12)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_log_matches_scipy_gaussian_laplace_and_is_zero_sum(rng, sigma):
    a = rng.standard_normal((40, 41))
    k = log_kernel(sigma)
    assert k.zero_sum and abs(k.sum) < 1e-15
    assert k.array[k.shape[0] // 2, k.shape[1] // 2] < 0
    got = convolve(a, k.array)
    expected = ndi.gaussian_laplace(a, sigma)
    # Only the tiny zero-sum correction differs from scipy.
    assert np.abs(got - expected).max() < 1e-3 * np.abs(expected).max()
    # A flat image gives exactly (to rounding) nothing.
    assert np.abs(convolve(np.full((20, 20), 0.7), k.array)).max() < 1e-12


def test_disk_and_motion_are_normalised_and_centred():
    for k in (disk_kernel(2), disk_kernel(4.5), motion_kernel(9, 30), motion_kernel(6, 0),
              motion_kernel(7.5, 123)):
        assert k.sum == pytest.approx(1.0)
        assert all(s % 2 == 1 for s in k.shape), k
        np.testing.assert_allclose(k.array, k.array[::-1, ::-1], atol=1e-12)  # point symmetric
    assert np.count_nonzero(disk_kernel(2).array) == 13
    # 45 degrees counter-clockwise as seen: up and to the right.
    k = motion_kernel(7, 45).array
    assert k[0, -1] + k[1, -2] > 0 and k[0, 0] == 0


def test_unsharp_kernel_is_original_plus_amount_times_detail(rng):
    a = rng.random((30, 32))
    got = convolve(a, unsharp_kernel(1.5, 0.7).array)
    blurred = ndi.gaussian_filter(a, 1.5, mode="reflect")
    np.testing.assert_allclose(got, a + 0.7 * (a - blurred), atol=1e-12)
    with pytest.raises(UsageError, match="amount must be a finite number >= 0"):
        unsharp_kernel(1.0, -1)


def test_response_bound():
    assert response_bound(parse_kernel("sobel-x")) == 4
    assert response_bound(parse_kernel("laplacian:8")) == 8
    assert response_bound(mean_kernel(3)) == pytest.approx(1)


# --------------------------------------------------------------------------
# Normalise, scale, correlate
# --------------------------------------------------------------------------


def test_normalize_choices():
    blur = parse_kernel("1 2 1; 2 4 2; 1 2 1")
    edge = parse_kernel("sobel-x")
    np.testing.assert_allclose(normalize_kernel(blur, "auto").array, blur.array / 16)
    np.testing.assert_allclose(normalize_kernel(blur, "sum").array, blur.array / 16)
    assert normalize_kernel(blur, "none") is blur
    assert normalize_kernel(edge, "auto") is edge
    assert normalize_kernel(log_kernel(1.3), "auto").sum == pytest.approx(0, abs=1e-15)
    with pytest.raises(KernelError, match="sobel-x: cannot normalise a kernel whose values "
                                          "sum to 0"):
        normalize_kernel(edge, "sum")
    with pytest.raises(UsageError, match="unknown normalize 'max': choose one of auto, sum"):
        normalize_kernel(blur, "max")
    # Negative sums divide too (the sign flips), as the maths says.
    np.testing.assert_allclose(normalize_kernel(Kernel([[-1.0, -1.0]]), "sum").array,
                               [[0.5, 0.5]])


def test_scale_applies_after_normalising_and_keeps_factors():
    k = adjust_kernel(parse_kernel("1 2 1"), normalize="sum", scale=3)
    np.testing.assert_allclose(k.array, [[0.75, 1.5, 0.75]])
    assert k.separable
    np.testing.assert_allclose(np.outer(*k.factors), k.array)
    with pytest.raises(UsageError, match="scale must be a finite number"):
        adjust_kernel(k, scale=float("nan"))


@pytest.mark.parametrize("shape", [(3, 3), (2, 2), (4, 3), (1, 4), (5, 2), (1, 1)])
@pytest.mark.parametrize("mode", MODES)
def test_correlate_matches_scipy_for_odd_and_even_sizes(rng, shape, mode):
    a = rng.standard_normal((9, 8))
    w = rng.standard_normal(shape)
    k = adjust_kernel(Kernel(w), correlate=True)
    got = convolve(a, k.array, mode=mode, cval=0.3)
    np.testing.assert_allclose(got, ndi.correlate(a, w, mode=mode, cval=0.3), atol=1e-12)
    # And without --correlate it is scipy's convolution.
    np.testing.assert_allclose(convolve(a, w, mode=mode, cval=0.3),
                               ndi.convolve(a, w, mode=mode, cval=0.3), atol=1e-12)


def test_flip_keeps_separable_factors():
    k = flip_kernel(parse_kernel("mean:4x2"))
    assert k.shape == (3, 5) and k.separable
    np.testing.assert_allclose(np.outer(*k.factors), k.array, atol=1e-15)


def test_parse_size():
    assert parse_size("640x480") == (480, 640)
    assert parse_size("64") == (64, 64)
    for bad in ("0x5", "axb", "1x2x3", ""):
        with pytest.raises(UsageError, match="WIDTHxHEIGHT"):
            parse_size(bad)


def test_huge_side_limit_is_the_documented_one():
    with pytest.raises(KernelError, match=str(MAX_KERNEL_SIDE)):
        parse_kernel(f"mean:{MAX_KERNEL_SIDE + 1}x1")


# --------------------------------------------------------------------------
# Pixel-level options in FilterJob
# --------------------------------------------------------------------------


def _image(pixels, mode):
    return imaging.Image(pixels=np.asarray(pixels, dtype=np.float32), mode=mode)


def test_bias_abs_and_kernel_offset(rng):
    px = rng.random((6, 7, 1))
    k = parse_kernel("sobel-x")
    response = convolve(px, k.array)
    out = apply_job(FilterJob(k, bias=0.5), _image(px, "L")).pixels
    np.testing.assert_allclose(out, response + 0.5, atol=1e-5)
    out = apply_job(FilterJob(k, absolute=True, bias=0.1), _image(px, "L")).pixels
    np.testing.assert_allclose(out, np.abs(response) + 0.1, atol=1e-5)
    shifted = Kernel(k.array, offset=0.25)
    out = apply_job(FilterJob(shifted, bias=0.1), _image(px, "L")).pixels
    np.testing.assert_allclose(out, response + 0.35, atol=1e-5)


def test_gradient_magnitude_and_stretch(rng):
    px = rng.random((8, 9, 3))
    kx, ky = gradient_kernel("sobel", "x"), gradient_kernel("sobel", "y")
    out = apply_job(FilterJob(kx, kernel_y=ky), _image(px, "RGB")).pixels
    # scipy's sobel also smooths across the channel axis: one channel at a time.
    expected = np.stack([np.hypot(ndi.sobel(px[..., c], axis=1), ndi.sobel(px[..., c], axis=0))
                         for c in range(3)], axis=-1)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    out = apply_job(FilterJob(kx, kernel_y=ky, stretch=True), _image(px, "RGB")).pixels
    np.testing.assert_allclose(out, expected / expected.max(), atol=1e-6)
    flat = apply_job(FilterJob(kx, stretch=True), _image(np.ones((4, 4, 1)), "L")).pixels
    assert np.all(flat == 0)  # nothing to stretch: no division by zero


def test_threshold_leaves_small_changes_alone(rng):
    px = rng.random((10, 10, 1))
    k = unsharp_kernel(1.0, 1.0)
    full = apply_job(FilterJob(k), _image(px, "L")).pixels
    change = np.abs(full - px)
    t = float(np.median(change))
    out = apply_job(FilterJob(k, threshold=t), _image(px, "L")).pixels
    small = change < t
    assert small.any() and (~small).any()
    np.testing.assert_allclose(out[small], px[small], atol=1e-7)
    np.testing.assert_allclose(out[~small], full[~small], atol=1e-7)


def test_channels_filter_a_subset(rng):
    px = rng.random((6, 6, 4))
    k = mean_kernel(3)
    out = apply_job(FilterJob(k, channels="a"), _image(px, "RGBA")).pixels
    np.testing.assert_array_equal(out[..., :3], px[..., :3].astype(np.float32))
    np.testing.assert_allclose(out[..., 3], ndi.uniform_filter(px[..., 3], 3), atol=1e-6)
    out = apply_job(FilterJob(k, channels="r,g"), _image(px, "RGBA")).pixels
    np.testing.assert_array_equal(out[..., 2:], px[..., 2:].astype(np.float32))
    np.testing.assert_allclose(out[..., 1], ndi.uniform_filter(px[..., 1], 3), atol=1e-6)


def test_channel_names():
    assert parse_channels("R, G,b") == "rgb"
    assert parse_channels("all") is None and parse_channels(None) is None
    assert channel_indices("RGBA", "ab", 4) == [2, 3]
    assert channel_indices("LA", "rgb", 2) == [0]
    with pytest.raises(UsageError, match="unknown channel 'x'"):
        parse_channels("rx")
    with pytest.raises(UsageError, match="an image of mode RGB has no 'a' channel"):
        channel_indices("RGB", "a", 3)
    with pytest.raises(UsageError, match="bias must be a finite number"):
        FilterJob(mean_kernel(3), bias=float("inf"))
    with pytest.raises(UsageError, match="threshold must be a finite number >= 0"):
        FilterJob(mean_kernel(3), threshold=-0.1)


# --------------------------------------------------------------------------
# The package layout: lazy factors, one list of names
# --------------------------------------------------------------------------


def test_factors_are_found_once_and_only_when_asked(monkeypatch):
    import pickle

    import convtool.engine

    calls = []
    real = convtool.engine.separable_factors

    def counting(array, *args, **kwargs):
        calls.append(array.shape)
        return real(array, *args, **kwargs)

    monkeypatch.setattr(convtool.engine, "separable_factors", counting)
    k = parse_kernel("1 2 1; 2 4 2; 1 2 1")
    derived = adjust_kernel(k, normalize="sum", scale=2.0, correlate=True)
    assert calls == []  # building and adjusting a kernel does not factorise it
    column, row = derived.factors
    np.testing.assert_allclose(np.outer(column, row), derived.array, atol=1e-15)
    assert derived.factors is derived.factors and k.separable
    assert calls == [(3, 3)]  # once, on the original; the adjusted one derives from it
    again = pickle.loads(pickle.dumps(adjust_kernel(k, scale=3.0)))
    np.testing.assert_array_equal(again.factors[0], k.factors[0] * 3.0)
    assert not parse_kernel("laplacian").separable and len(calls) == 2


def test_kernel_names_and_operators_have_one_source_of_truth():
    from convtool.kernels import GRADIENT_OPERATORS, GRADIENT_SMOOTHING, KERNEL_NAMES

    assert tuple(NAMED_KERNELS) == KERNEL_NAMES
    assert tuple(GRADIENT_SMOOTHING) == GRADIENT_OPERATORS
    with pytest.raises(UsageError, match="choose sobel, scharr, prewitt"):
        gradient_kernel("roberts", "x")


@pytest.mark.parametrize("spec", ["gaussian:0", "gaussian:sigma=0,radius=3", "gaussian:0x0"])
def test_sigma_zero_is_the_identity(spec):
    """Sigma 0 leaves the image unchanged, as scipy.ndimage and ImageMagick treat it."""
    image = np.random.default_rng(0).random((9, 11))
    kernel = parse_kernel(spec)
    assert kernel.array.sum() == 1.0 and np.count_nonzero(kernel.array) == 1
    assert np.array_equal(convolve(image, kernel.array), image)
