import numpy as np
import pytest
import scipy.ndimage as ndi

from convtool import engine
from convtool.engine import (
    MODES,
    _bands,
    choose_method,
    convolve,
    next_fast_len,
    planner,
    separable_factors,
)
from convtool.engine.analysis import symmetry
from convtool.engine.modes import pad_index
from convtool.errors import UsageError

from reference import brute_convolve

KERNEL_SHAPES = [(1, 1), (3, 3), (4, 4), (2, 5), (5, 2), (1, 4), (3, 1), (7, 6)]
IMAGE_SHAPES = [(9, 8), (1, 1), (1, 6), (5, 1), (2, 3)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
def test_matches_brute_force_2d(rng, mode, method, kshape):
    for ishape in IMAGE_SHAPES:
        a = rng.standard_normal(ishape)
        k = rng.standard_normal(kshape)
        got = convolve(a, k, mode=mode, cval=0.7, method=method)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, 0.7), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_separable_kernels_match_brute_force(rng, mode, method):
    for kshape in [(3, 3), (4, 2), (5, 7), (12, 3)]:
        k = np.outer(rng.standard_normal(kshape[0]), rng.standard_normal(kshape[1]))
        assert separable_factors(k) is not None
        a = rng.standard_normal((7, 9))
        got = convolve(a, k, mode=mode, cval=-1.25, method=method)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, -1.25), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_multichannel_filters_each_channel(rng, mode, method):
    a = rng.standard_normal((6, 7, 3))
    k = rng.standard_normal((3, 4))
    got = convolve(a, k, mode=mode, cval=0.3, method=method)
    assert got.shape == a.shape
    for c in range(3):
        expected = brute_convolve(a[:, :, c], k, mode, 0.3)
        np.testing.assert_allclose(got[:, :, c], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("klen", [1, 2, 5, 8])
def test_1d_signal(rng, mode, method, klen):
    for n in (1, 2, 3, 10):
        a = rng.standard_normal(n)
        k = rng.standard_normal(klen)
        got = convolve(a, k, mode=mode, cval=2.0, method=method)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, 2.0), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_kernel_larger_than_image(rng, mode, method):
    a = rng.standard_normal((3, 2))
    k = rng.standard_normal((9, 12))
    got = convolve(a, k, mode=mode, method=method)
    np.testing.assert_allclose(got, brute_convolve(a, k, mode), rtol=1e-10, atol=1e-10)


# scipy.ndimage as an oracle. Its 'reflect' goes wrong when the kernel is more
# than about twice as long as a 2- or 3-sample axis (it is checked against the
# brute force above instead), so the images here are larger than the kernels.
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("kshape", [(3, 3), (4, 4), (2, 5), (6, 3), (11, 11)])
def test_matches_scipy_convolve(rng, mode, method, kshape):
    a = rng.random((40, 33, 3)).astype(np.float32)
    k = rng.standard_normal(kshape)
    got = convolve(a, k, mode=mode, cval=0.25, method=method)
    expected = ndi.convolve(a.astype(np.float64), k[:, :, None], mode=mode, cval=0.25)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_matches_scipy_gaussian_filter(rng, mode, method, sigma):
    from convtool.kernels import gaussian_kernel

    a = rng.random((37, 41)).astype(np.float32)
    got = convolve(a, gaussian_kernel(sigma).array, mode=mode, cval=0.5, method=method)
    expected = ndi.gaussian_filter(a.astype(np.float64), sigma, mode=mode, cval=0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, (3, 5), (6, 1)])
def test_matches_scipy_uniform_filter(rng, mode, method, size):
    from convtool.kernels import mean_kernel

    a = rng.random((30, 28, 2)).astype(np.float32)
    got = convolve(a, mean_kernel(size).array, mode=mode, cval=0.5, method=method)
    # uniform_filter correlates; for even sizes its origin differs from convolve's,
    # so compare with ndimage.convolve of the same box.
    h, w = (size, size) if np.ndim(size) == 0 else size
    box = np.full((h, w, 1), 1.0 / (h * w))
    expected = ndi.convolve(a.astype(np.float64), box, mode=mode, cval=0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    if h % 2 and w % 2:
        uniform = ndi.uniform_filter(a.astype(np.float64), size=(h, w, 1), mode=mode, cval=0.5)
        np.testing.assert_allclose(got, uniform, rtol=1e-5, atol=1e-5)


def test_direct_and_fft_agree_float32(rng):
    a = rng.random((120, 90, 3)).astype(np.float32)
    for kshape in [(3, 3), (9, 9), (21, 21), (8, 13)]:
        k = rng.standard_normal(kshape)
        d = convolve(a, k, method="direct")
        f = convolve(a, k, method="fft")
        assert d.dtype == f.dtype == np.float32
        scale = np.abs(d).max()
        np.testing.assert_allclose(f, d, rtol=1e-4, atol=1e-4 * scale)


def test_dtype_and_shape_kept(rng):
    for dtype in (np.float32, np.float64):
        a = rng.random((10, 12, 4)).astype(dtype)
        for method in ("direct", "fft"):
            out = convolve(a, np.ones((3, 3)) / 9, method=method)
            assert out.dtype == dtype and out.shape == a.shape
    ints = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert convolve(ints, np.ones((1, 1))).dtype == np.float64
    np.testing.assert_array_equal(convolve(ints, np.ones((1, 1))), ints)


def test_input_not_modified(rng):
    a = rng.random((8, 8))
    before = a.copy()
    for method in ("direct", "fft"):
        convolve(a, rng.standard_normal((3, 3)), method=method)
    np.testing.assert_array_equal(a, before)


def test_choose_method():
    assert choose_method((2000, 2000), np.ones((3, 3))) == "direct"
    rng = np.random.default_rng(0)
    assert choose_method((2000, 2000), rng.standard_normal((63, 63))) == "fft"
    assert choose_method((2000, 2000, 3), rng.standard_normal((63, 63))) == "fft"
    # A rank-1 kernel from a file counts as separable: direct wins even when large.
    rank1 = np.outer(rng.random(31), rng.random(31))
    assert choose_method((2000, 2000), rank1) == "direct"


def test_separable_factors():
    k = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    col, row = separable_factors(k)
    np.testing.assert_allclose(np.outer(col, row), k, atol=1e-12)
    assert separable_factors(np.array([[0.0, 1.0], [1.0, 0.0]])) is None
    assert separable_factors(np.ones(3)) is None


def test_next_fast_len():
    for n in [1, 2, 7, 11, 13, 97, 1000, 1025, 4001]:
        m = next_fast_len(n)
        assert m >= n
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert r == 1
        assert all(not _is_5_smooth(x) for x in range(n, m))


def _is_5_smooth(x):
    for p in (2, 3, 5):
        while x % p == 0:
            x //= p
    return x == 1


def test_mode_aliases():
    a = np.arange(10.0)
    np.testing.assert_array_equal(convolve(a, [1, 2, 3], mode="edge"),
                                  convolve(a, [1, 2, 3], mode="nearest"))
    assert engine.normalize_mode("GRID-WRAP") == "wrap"


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "symmetric"}, "unknown mode 'symmetric'.*reflect, mirror, nearest, wrap, constant"),
    ({"method": "fastest"}, "unknown method 'fastest'"),
    ({"cval": float("nan")}, "cval must be a finite number"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(UsageError, match=match):
        convolve(np.zeros((4, 4)), np.ones((3, 3)), **kwargs)


@pytest.mark.parametrize("kernel, match", [
    (np.zeros((0, 3)), "non-empty"),
    (np.ones((2, 2, 2, 2)), "4 dimensions"),
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array(3.0), "non-empty"),
])
def test_bad_kernels(kernel, match):
    with pytest.raises(UsageError, match=match):
        convolve(np.zeros((4, 4, 3)), kernel)


# --- The fast paths: bands, threads, folding, low rank, running sums ----------


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of a row or two, and threads even for tiny arrays, so tests cross band edges."""
    monkeypatch.setattr(_bands, "BAND_BYTES", 64)
    monkeypatch.setattr(_bands, "THREAD_MIN_SAMPLES", 0)


@pytest.fixture
def force_box(monkeypatch):
    """Make the running-sum path the cheapest for every box, even a small one."""
    monkeypatch.setattr(planner, "BOX_COLUMN_OPS", -1000.0)


def _plan_kind(shape, kernel):
    p = engine.plan(shape, np.asarray(kernel, float))
    return p.direct[0], p.direct[1], p.fft[0]


BANDED_KERNELS = {
    "box 3x5": np.full((3, 5), 1 / 15),
    "box 4x4": np.full((4, 4), 1 / 16),
    "box 1x6": np.full((1, 6), 0.5),
    "box 7x1": np.full((7, 1), 2.0),
    "sobel (antisymmetric row)": np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]),
    "gaussian-like (symmetric, even)": np.outer([1.0, 3.0, 3.0, 1.0], [1.0, 4.0, 6.0, 4.0, 1.0]),
    # Two pairs of long factors: cheaper than a column pass per kernel column.
    "rank 2": (np.outer(np.hanning(15), np.arange(15.0) % 4)
               + np.outer(np.arange(15.0) % 3 - 1, np.ones(15))),
    "random 4x3": np.array([[0.3, -1.2, 0.5], [2.0, 0.1, -0.7], [0.0, 1.5, 0.2], [-0.4, 0.9, 1.1]]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(BANDED_KERNELS))
@pytest.mark.parametrize("threads", [1, 3])
def test_banded_threaded_direct_matches_brute_force(rng, small_bands, mode, name, threads):
    k = BANDED_KERNELS[name]
    for shape in [(11, 9, 2), (2, 3), (1, 7), (6, 1, 3)]:
        a = rng.standard_normal(shape)
        got = convolve(a, k, mode=mode, cval=0.6, method="direct", threads=threads)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, 0.6), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("threads", [1, 2])
def test_banded_fft_matches_brute_force(rng, small_bands, mode, threads):
    for k in (BANDED_KERNELS["sobel (antisymmetric row)"], BANDED_KERNELS["random 4x3"],
              np.full((1, 5), 0.2), np.full((6, 1), 0.5)):
        a = rng.standard_normal((13, 10, 2))
        got = convolve(a, k, mode=mode, cval=-0.4, method="fft", threads=threads)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, -0.4), rtol=1e-9, atol=1e-9)


def test_paths_are_the_ones_tested(monkeypatch):
    assert _plan_kind((50, 50), np.full((101, 101), 1.0))[0] == "box"
    assert _plan_kind((50, 50), np.full((3, 3), 1.0))[0] == "pairs"
    monkeypatch.setattr(planner, "BOX_COLUMN_OPS", -1000.0)
    assert _plan_kind((50, 50), BANDED_KERNELS["box 3x5"])[0] == "box"
    monkeypatch.undo()
    kind, pairs, fft_kind = _plan_kind((50, 50), BANDED_KERNELS["rank 2"])
    assert kind == "pairs" and len(pairs) == 2 and fft_kind == "full"
    kind, pairs, fft_kind = _plan_kind((50, 50), BANDED_KERNELS["sobel (antisymmetric row)"])
    assert kind == "pairs" and len(pairs) == 1 and fft_kind == "separable"
    assert _plan_kind((50, 50), BANDED_KERNELS["random 4x3"])[0] == "full"
    assert symmetry(np.array([1.0, 0.0, -1.0])) == -1
    assert symmetry(np.array([1.0, 3.0, 3.0, 1.0])) == 1
    assert symmetry(np.array([1.0, 2.0, 3.0])) == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_low_rank_kernel_larger_than_image(rng, small_bands, mode, method):
    u = rng.standard_normal((3, 9))
    v = rng.standard_normal((3, 11))
    k = u.T @ v  # rank 3, 9x11: three separable pairs beat 99 taps
    assert _plan_kind((4, 5), k)[0] == "pairs"
    a = rng.standard_normal((4, 5, 2))
    got = convolve(a, k, mode=mode, method=method, threads=2)
    np.testing.assert_allclose(got, brute_convolve(a, k, mode), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(2, 2), (4, 4), (5, 12), (13, 3), (9, 9), (1, 5), (6, 1)])
def test_box_running_sums_match_brute_force(rng, small_bands, force_box, mode, size):
    k = np.full(size, 1.0 / (size[0] * size[1]))
    for shape in [(7, 6), (3, 2, 3), (1, 1), (12, 5)]:
        a = rng.standard_normal(shape)
        got = convolve(a, k, mode=mode, cval=1.5, method="direct", threads=2)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, 1.5), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [15, 51, 101])
def test_box_float32_exact_to_1e4_on_a_large_image(rng, mode, size):
    from convtool.kernels import mean_kernel

    a = rng.random((260, 230, 3)).astype(np.float32) * 255
    got = convolve(a, mean_kernel(size).array, mode=mode, cval=3.0, method="auto")
    assert got.dtype == np.float32
    expected = ndi.uniform_filter(a.astype(np.float64), size=(size, size, 1), mode=mode, cval=3.0)
    assert np.max(np.abs(got - expected)) <= 1e-4 * np.max(np.abs(expected))


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_every_method_float32_exact_to_1e4(rng, method):
    from convtool.kernels import gaussian_kernel

    a = rng.random((130, 110, 3)).astype(np.float32)
    kernels = [gaussian_kernel(2.0).array, gaussian_kernel(9.0).array,
               rng.standard_normal((21, 21)), rng.standard_normal((8, 5))]
    for k in kernels:
        got = convolve(a, k, method=method)
        expected = ndi.convolve(a.astype(np.float64), k[:, :, None], mode="reflect")
        assert np.max(np.abs(got - expected)) <= 1e-4 * np.max(np.abs(expected))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("n, channels", [(37, ()), (9, (70,)), (5, (2, 40))])
def test_1d_kernels_both_layouts(rng, small_bands, mode, method, n, channels):
    # Few trailing samples filter along one long row; many filter down the columns.
    a = rng.standard_normal((n, *channels))
    for k in (np.full(4, 0.25), np.array([1.0, -2.0, 0.5]), np.array([1.0, 2.0, 2.0, 1.0, 3.0])):
        got = convolve(a, k, mode=mode, cval=0.5, method=method, threads=2)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode, 0.5), rtol=1e-9, atol=1e-9)


def test_threads_do_not_change_the_result(rng, small_bands):
    a = rng.random((40, 30, 3)).astype(np.float32)
    for k in (BANDED_KERNELS["rank 2"], BANDED_KERNELS["box 3x5"], rng.standard_normal((6, 6))):
        for method in ("direct", "fft"):
            one = convolve(a, k, method=method, threads=1)
            many = convolve(a, k, method=method, threads=4)
            np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-6)


def test_threads_argument_checked():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(UsageError, match="threads must be a whole number"):
            convolve(np.zeros((4, 4)), np.ones((3, 3)), threads=bad)


def test_non_contiguous_input_not_modified(rng):
    base = rng.random((30, 40, 4))
    a = base[::2, ::-1, 1:]
    before = a.copy()
    for method in ("direct", "fft"):
        got = convolve(a, np.full((3, 3), 1 / 9), method=method)
        np.testing.assert_allclose(got, brute_convolve(before, np.full((3, 3), 1 / 9)),
                                   rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(a, before)


def test_choose_method_fast_paths():
    from convtool.kernels import gaussian_kernel, mean_kernel

    # A box costs the same at any size: always direct.
    assert choose_method((4000, 3000, 3), mean_kernel(101).array) == "direct"
    assert choose_method((2000, 2000), gaussian_kernel(1.0).array) == "direct"
    # A huge non-separable kernel on a photo goes to the FFT.
    rng = np.random.default_rng(1)
    assert choose_method((4000, 3000, 3), rng.standard_normal((127, 127))) == "fft"


def test_separable_factors_without_svd_match_svd():
    k = np.outer([1.0, -2.0, 4.0], [0.5, 1.0, 0.25, 3.0])
    col, row = separable_factors(k)
    np.testing.assert_allclose(np.outer(col, row), k, atol=1e-12)
    # Balanced by powers of two (which round nothing): norms within a factor of 2.
    assert 0.5 <= np.linalg.norm(col) / np.linalg.norm(row) <= 2
    assert row.sum() > 0
    # A kernel that is not small integers times a power of two: balanced to equal norms.
    k = np.outer([1.0, 0.3, 0.7], [0.1, 1.0, 0.9])
    col, row = separable_factors(k)
    np.testing.assert_allclose(np.outer(col, row), k, rtol=1e-15, atol=1e-16)
    assert np.isclose(np.linalg.norm(col), np.linalg.norm(row))
    assert separable_factors(np.zeros((3, 3))) is not None


def test_fft_channels_do_not_leak_into_each_other(rng):
    # 50 + 7 - 1 = 56 rows pad to a transform of 60: the spare rows must be zeroed
    # for every channel, or each channel's rounding error grows with the last's.
    a = rng.random((50, 44, 6)).astype(np.float32)
    k = rng.standard_normal((7, 7))
    assert next_fast_len(50 + 7 - 1) > 50 + 7 - 1
    got = convolve(a, k, method="fft")
    expected = ndi.convolve(a.astype(np.float64), k[:, :, None], mode="reflect")
    err = np.abs(got - expected).max(axis=(0, 1)) / np.abs(expected).max()
    assert np.all(err < 2e-6), err


def test_tiny_rank1_kernel_does_not_underflow():
    # A kernel of 1e-236 values once divided by a norm that underflowed to 0.
    k = np.full((2, 2), 9.5905799e-236)
    out = convolve(np.ones((3, 3)), k, method="direct")
    np.testing.assert_allclose(out, np.full((3, 3), 4 * 9.5905799e-236), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_border_plan_fills_like_the_index_array(rng, mode):
    # Slices where the pad runs by steps of -1, 0 or +1, the index array otherwise
    # (kernels wider than the axis); either way the same columns as np.take.
    pads = [(6, 2, 3), (1, 0, 1), (1, 3, 3), (3, 5, 4), (4, 0, 4), (5, 4, 0), (2, 1, 7)]
    for w, before, after in pads:
        idx = pad_index(w, before, after, mode)
        band = rng.standard_normal((3, idx.size, 2))
        expected = np.where((idx < 0)[None, :, None], -2.5, band[:, before + np.maximum(idx, 0)])
        _bands.fill_border(band, _bands.border_plan(idx, before, w), -2.5)
        np.testing.assert_array_equal(band, expected)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_float64_keeps_a_tiny_second_rank(method):
    # Rank 2 with a second singular value of ~1e-10: float64 results must keep it
    # (hypothesis once found it dropped as "separable within 1e-6").
    e = 1.16e-10
    k = np.array([[1.0, e], [e, e]])
    a = np.array([[1.0]])
    for mode in MODES:
        got = convolve(a, k, mode=mode, method=method)
        np.testing.assert_allclose(got, brute_convolve(a, k, mode), rtol=0, atol=1e-14)
