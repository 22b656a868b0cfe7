"""The engine's contract: input layouts and dtypes, the planner, the mode table.

Each defect of issue 10 has its own regression test here.
"""

import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from convtool import engine
from convtool.engine import MODES, Plan, choose_method, convolve, plan
from convtool.engine import analysis as analysis_module
from convtool.engine import direct as direct_module
from convtool.engine import fft as fft_module
from convtool.engine.modes import MODE_TABLE, mode_lines, pad_index
from convtool.errors import UsageError
from convtool.kernels import gaussian_kernel, parse_kernel

from reference import brute_convolve, extend_index

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


# --- Layouts: every view gives what its contiguous copy gives ------------------------


def _layouts(a: np.ndarray):
    """Views of the same data (H, W, C) in other layouts, each with its logical value."""
    chw = np.ascontiguousarray(np.moveaxis(a, -1, 0))
    swapped = a.astype(a.dtype.newbyteorder(">" if sys.byteorder == "little" else "<"))
    readonly = a.copy()
    readonly.setflags(write=False)
    padded = np.zeros((2 * a.shape[0], 3 * a.shape[1], a.shape[2]), a.dtype)
    padded[::2, ::3] = a
    return {
        "transposed": np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2),
        "channel-first via moveaxis": np.moveaxis(chw, 0, -1),
        "step slices": padded[::2, ::3],
        "fortran order": np.asfortranarray(a),
        "negative strides": np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1],
        "read-only": readonly,
        "non-native byte order": swapped,
    }


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layout_equals_its_contiguous_copy(rng, method, dtype):
    a = rng.random((40, 33, 3)).astype(dtype)
    kernels = [gaussian_kernel(8.0).array, gaussian_kernel(1.0).array, np.ones((1, 1)),
               rng.standard_normal((5, 4)), np.full((7, 7), 1 / 49)]
    for name, view in _layouts(a).items():
        np.testing.assert_array_equal(view, a)
        for k in kernels:
            got = convolve(view, k, method=method)
            expected = convolve(np.ascontiguousarray(view), k, method=method)
            assert got.dtype == expected.dtype == np.dtype(dtype), name
            assert np.array_equal(got, expected), (name, k.shape)


def test_transposed_view_with_large_sigma_is_not_garbage(rng):
    # The reported case: the separable FFT path wrote through a reshape that was a copy.
    img = rng.random((60, 50, 3)).astype(np.float32)
    k = gaussian_kernel(8.0).array
    expected = ndi.convolve(img.transpose(1, 0, 2).astype(np.float64), k[:, :, None])
    for method in ("fft", "auto"):  # auto is direct since column passes are matrix products
        got = convolve(img.transpose(1, 0, 2), k, method=method)
        np.testing.assert_allclose(got, expected, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 3),
       perm=st.permutations([0, 1, 2]), steps=st.tuples(*[st.sampled_from([1, 2, -1, -2])] * 3),
       order=st.sampled_from("CF"), method=st.sampled_from(["auto", "direct", "fft"]),
       mode=st.sampled_from(MODES), kshape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       seed=st.integers(0, 2**16))
def test_layouts_hypothesis(h, w, c, perm, steps, order, method, mode, kshape, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((2 * h, 2 * w, 2 * c))
    base = np.asarray(base.transpose(perm), order=order).transpose(np.argsort(perm))
    view = base[::steps[0], ::steps[1], ::steps[2]][:h, :w, :c]
    k = rng.standard_normal(kshape)
    got = convolve(view, k, mode=mode, cval=0.5, method=method)
    assert np.array_equal(got, convolve(np.ascontiguousarray(view), k, mode=mode, cval=0.5,
                                        method=method))


# --- dtypes: what comes in, what goes out --------------------------------------------


@pytest.mark.parametrize("dtype, out", [
    (np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float64),
    (np.uint8, np.float64), (np.int16, np.float64), (np.int64, np.float64),
    (np.bool_, np.float64), (">f4", np.float32), (">f8", np.float64),
])
def test_output_dtype(dtype, out):
    a = (np.arange(24).reshape(4, 6) % 2).astype(dtype)
    got = convolve(a, np.ones((3, 3)))
    assert got.dtype == np.dtype(out) and got.dtype.isnative and got.flags.c_contiguous
    np.testing.assert_array_equal(got, brute_convolve(a.astype(np.float64), np.ones((3, 3))))


def test_complex_and_non_numeric_input_are_refused():
    with pytest.raises(UsageError, match="complex"):
        convolve(np.zeros((3, 3), complex), np.ones((3, 3)))
    with pytest.raises(UsageError, match="numbers"):
        convolve(np.array([["a", "b"]]), np.ones(1))


# --- 1x1 kernels run direct and are exact --------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (300, 200, 3), (4000, 3000, 3), (9,)])
def test_auto_runs_a_1x1_kernel_directly_and_exactly(rng, shape):
    k = np.array([[2.5]]) if len(shape) > 1 else np.array([2.5])
    p = plan(shape, k)
    assert p.method == "direct"
    assert p.seconds["fft"] > p.seconds["direct"] > 0
    if np.prod(shape) < 10**6:
        a = rng.random(shape)
        np.testing.assert_array_equal(convolve(a, k), a * 2.5)
        np.testing.assert_array_equal(convolve(a, np.ones((1,) * len(k.shape))), a)


def test_no_fft_is_priced_at_zero():
    for shape in [(1, 1), (1, 1, 1), (2, 1), (1,)]:
        for k in [np.ones(1), np.ones((1, 1)), np.ones((2, 2))]:
            if k.ndim <= len(shape):
                assert plan(shape, k).seconds["fft"] > engine.planner.OVERHEAD


# --- Integer kernels on integer data are exact ---------------------------------------


@pytest.mark.parametrize("name", ["sobel-x", "sobel-y", "prewitt-x", "prewitt-y", "scharr-x",
                                  "scharr-y", "laplacian", "1 2 1; 2 4 2; 1 2 1"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_integer_kernels_are_exact_on_integer_data(rng, name, dtype, scale):
    k = parse_kernel(name).array * scale
    a = rng.integers(0, 256, (23, 19, 3)).astype(dtype)
    expected = brute_convolve(a, k)  # small integers (times 1/4): exact in float64
    for mode in MODES:
        got = convolve(a, k, mode=mode, method="direct")
        np.testing.assert_array_equal(got, brute_convolve(a, k, mode).astype(dtype))
    assert np.array_equal(convolve(a, k), expected.astype(dtype))


def test_integer_factors_are_integers():
    col, row = engine.separable_factors(parse_kernel("scharr-x").array)
    big = np.outer(col, row)
    np.testing.assert_array_equal(big, parse_kernel("scharr-x").array)
    # Each factor is small integers times a power of two.
    for f in (col, row):
        assert any(np.array_equal(f * 2.0**e, np.round(f * 2.0**e)) for e in range(-8, 9))


# --- choose_method and convolve agree: one rank tolerance rule -----------------------


def _ran(monkeypatch, a, k):
    """The method convolve(method="auto") actually runs."""
    ran = []
    for module, names, method in ((fft_module, ("separable", "full"), "fft"),
                                  (direct_module, ("pairs", "full"), "direct")):
        for name in names:
            original = getattr(module, name)

            def spy(*args, _original=original, _method=method, **kwargs):
                ran.append(_method)
                return _original(*args, **kwargs)

            monkeypatch.setattr(module, name, spy)
    convolve(a, k)
    monkeypatch.undo()
    return ran[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.uint8])
def test_choose_method_is_what_convolve_runs(rng, monkeypatch, dtype):
    near_rank1 = np.outer(rng.random(41), rng.random(41)) + 1e-9 * rng.standard_normal((41, 41))
    # The case that exposed two tolerances: rank 1 for float32, full rank for float64.
    assert plan((64, 64), near_rank1, dtype=np.float32).rank == 1
    assert plan((64, 64), near_rank1, dtype=np.float64).rank > 1
    kernels = [near_rank1, gaussian_kernel(2.0).array, rng.standard_normal((15, 15)),
               np.ones((1, 1)), rng.standard_normal(9)]
    for shape in [(64, 64), (200, 150, 3), (30, 500)]:
        a = rng.random(shape).astype(dtype)
        for k in kernels:
            assert choose_method(shape, k, dtype=dtype) == _ran(monkeypatch, a, k), (shape, k.shape)


# --- The kernel is analysed once: a plan can be passed ---------------------------------


def test_a_plan_saves_the_svd(rng, monkeypatch):
    calls = []
    svd = np.linalg.svd

    def counting_svd(*args, **kwargs):
        calls.append(1)
        return svd(*args, **kwargs)

    monkeypatch.setattr(analysis_module.np.linalg, "svd", counting_svd)
    k = rng.standard_normal((31, 31))
    a = rng.random((80, 70, 3)).astype(np.float32)
    p = plan(a.shape, k, dtype=a.dtype)
    assert isinstance(p, Plan) and p.rank == 31 and not p.separable and len(calls) == 1
    expected = convolve(a, k)
    assert np.array_equal(convolve(a, k, plan=p), expected)
    assert np.array_equal(convolve(a, plan=p), expected)
    # Another shape or a forced method reuses the analysis too.
    convolve(a[:50], plan=p, method="direct")
    assert len(calls) == 1
    with pytest.raises(UsageError, match="differs from the plan"):
        convolve(a, k + 1, plan=p)
    # The plan carries its analysis: no SVD even when the cache has forgotten the kernel.
    analysis_module._CACHE.clear()
    analysis_module._SVDS.clear()
    assert plan((20, 20), p, dtype=np.float32).rank == 31
    assert len(calls) == 1


def test_plan_describes_its_passes():
    p = plan((4000, 3000, 3), gaussian_kernel(2.0).array)
    assert p.method == "direct" and p.separable and p.box is None
    assert p.passes == ("column of 17 taps (matrix products)",
                        "row of 17 taps (matrix products, by blocks of pixels)")
    p = plan((4000, 3000, 3), gaussian_kernel(0.3).array)  # 3 taps: shifted multiply-adds...
    assert p.passes == ("column of 3 taps (folded)",
                        "row of 3 taps (matrix products, by blocks of pixels)")  # ...down
    p = plan((4000, 3000, 5), gaussian_kernel(0.3).array)  # 5 channels: tap by tap
    assert p.passes == ("column of 3 taps (folded)", "row of 3 taps (folded)")
    p = plan((4000, 3000, 3), gaussian_kernel(5.0).array)  # 41 taps: the band turned
    assert p.passes == ("column of 41 taps (matrix products)", "row of 41 taps (matrix products)")
    p = plan((4000, 3000, 3), np.full((101, 101), 1 / 101**2))
    assert p.box == pytest.approx(1 / 101**2) and p.passes[0].startswith("running sums")
    p = plan((4000, 3000, 3), gaussian_kernel(50.0).array)
    assert p.method == "fft" and len(p.passes) == 2
    with pytest.raises(AttributeError):
        p.method = "direct"


# --- The mode table: one source for the engine, the reference and the README -----------


@pytest.mark.parametrize("mode", MODE_TABLE, ids=lambda m: m.name)
def test_each_mode_rule_matches_the_reference(mode):
    for n in range(1, 6):
        idx = pad_index(n, 13, 11, mode.name)
        expected = [extend_index(i, n, mode.name) for i in range(-13, n + 11)]
        assert [None if i < 0 else int(i) for i in idx] == expected


@pytest.mark.parametrize("mode", MODE_TABLE, ids=lambda m: m.name)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_each_mode_matches_brute_force(rng, mode, method):
    for alias in (mode.name, *mode.aliases):
        a = rng.standard_normal((5, 4, 2))
        k = rng.standard_normal((7, 3))
        np.testing.assert_allclose(convolve(a, k, mode=alias, cval=-0.5, method=method),
                                   brute_convolve(a, k, mode.name, -0.5), atol=1e-12)


def test_readme_mode_table_is_the_table():
    text = README.read_text()
    block = "```\n" + "\n".join(mode_lines("--cval")) + "\n```"
    assert block in text


def test_every_mode_is_drawn_in_the_docstring_and_the_help():
    from convtool.engine.modes import mode_help

    for m in MODE_TABLE:
        assert f"{m.name:<9} {m.diagram()}" in convolve.__doc__
        assert f"{m.name} '{m.diagram().strip()}'" in mode_help()


def test_even_box_is_one_pixel_from_uniform_filter_and_correlate_matches(rng):
    # As the README says next to the kernel table.
    from convtool.kernels import adjust_kernel, mean_kernel

    a = rng.random((20, 18))
    uniform = ndi.uniform_filter(a, 4)
    ours = convolve(a, mean_kernel(4).array)
    np.testing.assert_allclose(ours[:-2, :-2], uniform[1:-1, 1:-1], atol=1e-12)
    assert not np.allclose(ours, uniform)
    correlated = convolve(a, adjust_kernel(mean_kernel(4), correlate=True).array)
    np.testing.assert_allclose(correlated, uniform, atol=1e-12)


def test_the_mode_table_loads_without_numpy():
    code = ("import sys\nfrom convtool.engine.modes import MODES, METHODS, mode_lines\n"
            "from convtool.engine import MODES as M2\n"
            "mode_lines()\nprint(M2 == MODES, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


# --- Cases adapted from scipy.ndimage's own tests (test_filters.py), written anew ------


def _with_origin(kernel, origin):
    """The kernel padded with zeros so that its centre moves by ``origin`` (scipy's origin)."""
    k = np.asarray(kernel, float)
    widths = [(-2 * o, 0) if o < 0 else (0, 2 * o) for o in np.broadcast_to(origin, k.ndim)]
    return np.pad(k, widths)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_scipy_small_cases(method):
    def conv(a, k, **kw):
        return convolve(np.asarray(a, float), np.asarray(k, float), method=method, **kw)

    np.testing.assert_allclose(conv([1, 2], [2]), [2, 4])
    np.testing.assert_allclose(conv([1], [1, 1]), [2])
    np.testing.assert_allclose(conv([1, 2, 3], [1, 1]), [3, 5, 6])
    np.testing.assert_allclose(conv([1, 2, 3], [1, 2, 3]), [7, 10, 15])
    np.testing.assert_allclose(conv([1, 2, 3], [1, 2, -1]), [3, 6, 7])
    np.testing.assert_allclose(conv([[1, 2, 3], [4, 5, 6]], [[1, 1], [1, 1]]),
                               [[12, 16, 18], [18, 22, 24]])
    np.testing.assert_allclose(conv([[1, 2, 3], [4, 5, 6]], [[1, 0], [0, 1]]),
                               [[6, 8, 9], [9, 11, 12]])
    # Along axis 0 only, wrap: a (3, 1) kernel.
    np.testing.assert_allclose(conv([[1, 2, 3], [2, 4, 6]], [[1], [2], [1]], mode="wrap"),
                               [[6, 12, 18], [6, 12, 18]])


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_scipy_origins(method):
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(convolve(a, _with_origin([1, 1], -1), method=method), [2, 3, 5])
    b = np.array([[1.0, 2, 3], [4, 5, 6]])
    k = np.array([[1.0, 0], [0, 1]])
    np.testing.assert_allclose(convolve(b, _with_origin(k, -1), mode="nearest", method=method),
                               [[2, 3, 5], [5, 6, 8]])
    np.testing.assert_allclose(convolve(b, _with_origin(k, [-1, 0]), mode="nearest",
                                        method=method), [[3, 5, 6], [6, 8, 9]])


@pytest.mark.parametrize("mode, expected", [
    ("nearest", [1, 1, 1]), ("wrap", [3, 1, 2]), ("reflect", [3, 3, 2]),
    ("mirror", [1, 2, 3]), ("constant", [0, 0, 0]),
])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_scipy_extension_beyond_a_short_axis(mode, expected, method):
    # A tap 4 samples before each output of a 3-sample axis: the extension repeats.
    k = np.zeros(9)
    k[-1] = 1.0
    got = convolve(np.array([1.0, 2.0, 3.0]), k, mode=mode, method=method)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("origin", [-1, 0, 1, (1, -1)])
def test_origins_against_scipy(rng, mode, origin):
    a = rng.random((13, 11))
    k = rng.standard_normal((3, 4))
    expected = ndi.convolve(a, k, mode=mode, cval=0.5, origin=origin)
    for method in ("direct", "fft"):
        got = convolve(a, _with_origin(k, origin), mode=mode, cval=0.5, method=method)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_literal_types_follow_the_tables():
    import typing

    from convtool.engine.modes import METHODS, Method, Mode

    assert typing.get_args(Mode) == MODES
    assert typing.get_args(Method) == METHODS


# --- rows: a band's own rows, its neighbours read as they are -------------------------


ROW_KERNELS = {
    "gaussian": gaussian_kernel(2.0).array,
    "gaussian, long rows": np.outer(np.ones(3) / 3, gaussian_kernel(5.0).factors[1]),
    "5x5": np.arange(25.0).reshape(5, 5) % 7 - 3,
    "3x3 folded": np.array([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "1-D": np.array([1.0, -2.0, 3.0, 0.5]),
    "3-D": np.ones((3, 3, 2)) / 18,
}


@pytest.mark.parametrize("name", sorted(ROW_KERNELS))
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", ["reflect", "wrap", "constant"])
def test_rows_are_those_rows_of_the_whole_result(name, method, mode, rng):
    kernel = ROW_KERNELS[name]
    a = rng.random((61, 23, 2), dtype=np.float32)
    whole = convolve(a, kernel, mode=mode, cval=0.25, method=method)
    for rows in [(0, 61), (0, 1), (60, 61), (7, 30), (12, 12), (1, 60)]:
        part = convolve(a, kernel, mode=mode, cval=0.25, method=method, rows=rows)
        assert part.shape == whole[rows[0]:rows[1]].shape and part.flags.c_contiguous
        np.testing.assert_array_equal(part, whole[rows[0]:rows[1]])


def test_rows_of_a_box_are_those_rows_to_float_rounding(rng):
    a = rng.random((300, 40, 3), dtype=np.float32)
    kernel = np.ones((9, 9)) / 81
    assert plan(a.shape, kernel).box is not None
    whole = convolve(a, kernel)
    part = convolve(a, kernel, rows=(101, 257))
    np.testing.assert_allclose(part, whole[101:257], rtol=0, atol=1e-6)


def test_rows_skip_the_work_on_other_rows(rng, monkeypatch):
    """The direct paths make only the rows asked for (the FFT makes all and slices)."""
    made = []
    real = direct_module.padded_rows
    monkeypatch.setattr(direct_module, "padded_rows",
                        lambda flat, idx, before, start, stop, *rest:
                        made.append((start, stop)) or real(flat, idx, before, start, stop, *rest))
    a = rng.random((400, 30), dtype=np.float32)
    convolve(a, gaussian_kernel(1.0).array, method="direct", rows=(100, 140), threads=1)
    rb = gaussian_kernel(1.0).array.shape[0] // 2
    assert made and min(s for s, _ in made) == 100 and max(e for _, e in made) == 140 + 2 * rb


@pytest.mark.parametrize("rows", [(3, 2), (-1, 4), (0, 11), (1.5, 3), "0:4", (1, 2, 3)])
def test_rows_outside_the_array_are_refused(rows):
    with pytest.raises(UsageError, match="rows"):
        convolve(np.zeros((10, 4)), np.ones((3, 3)), rows=rows)
