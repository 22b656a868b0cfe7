"""Properties of :func:`convtool.engine.convolve` on random small arrays and kernels.

Each property holds for every boundary mode, both methods and float32/float64.
The direct method is exact where exactness is claimed (identity, circular
shifts); the FFT method agrees to a tolerance scaled by ``sum|k| * max|a|``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convtool.engine import MODES, convolve, plan

from reference import brute_convolve

SETTINGS = settings(max_examples=60, deadline=None)
# Relative tolerance of the FFT method (and of reordered sums) per dtype,
# relative to sum|k| * max|a|, the largest value a sum of products can reach.
RTOL = {np.float32: 1e-4, np.float64: 1e-10}

modes = st.sampled_from(MODES)
methods = st.sampled_from(["direct", "fft"])
dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def images(draw, dtype=None, min_side=1):
    dtype = dtype or draw(dtypes)
    h = draw(st.integers(min_side, 9))
    w = draw(st.integers(min_side, 9))
    shape = draw(st.sampled_from([(h, w), (h, w, 1), (h, w, 3)]))
    # Subnormal numbers are left out: an FFT rounds them away, and no image holds them.
    elements = st.floats(-1, 1, width=32 if dtype == np.float32 else 64, allow_subnormal=False)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def kernels(draw, non_negative=False):
    ndim = draw(st.sampled_from([1, 2]))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    low = 0.0 if non_negative else -2.0
    elements = st.floats(low, 2.0, allow_subnormal=False)
    return draw(hnp.arrays(np.float64, shape, elements=elements))


def tolerance(array, kernel) -> float:
    scale = float(np.abs(kernel).sum()) * max(float(np.abs(array).max()), 1.0)
    # Below the dtype's smallest normal number nothing is relative any more
    # (a float64 kernel of 1e-43 becomes subnormal in float32).
    return RTOL[array.dtype.type] * scale + float(np.finfo(array.dtype).tiny)


@SETTINGS
@given(images(), kernels(), modes, st.floats(-1, 1))
def test_direct_equals_fft(image, kernel, mode, cval):
    direct = convolve(image, kernel, mode=mode, cval=cval, method="direct")
    fft = convolve(image, kernel, mode=mode, cval=cval, method="fft")
    assert np.abs(direct.astype(np.float64) - fft).max() <= tolerance(image, kernel)


@SETTINGS
@given(images(dtype=np.float64), kernels(), modes, methods, st.floats(-1, 1))
def test_agrees_with_brute_force_reference(image, kernel, mode, method, cval):
    got = convolve(image, kernel, mode=mode, cval=cval, method=method)
    expected = brute_convolve(image, kernel, mode=mode, cval=cval)
    assert np.abs(got - expected).max() <= tolerance(image, kernel)


IDENTITIES = {
    "1x1": np.array([[1.0]]),
    "1": np.array([1.0]),
    "3x3-delta": np.pad([[1.0]], 1),
    "5x3-delta": np.pad([[1.0]], ((2, 2), (1, 1))),
}


@pytest.mark.parametrize("name", IDENTITIES)
@SETTINGS
@given(image=images(), mode=modes, cval=st.floats(-1, 1))
def test_identity_kernel_returns_the_input(name, image, mode, cval):
    kernel = IDENTITIES[name]
    direct = convolve(image, kernel, mode=mode, cval=cval, method="direct")
    assert direct.dtype == image.dtype
    np.testing.assert_array_equal(direct, image)  # exactly: only 1 * x and 0 * x are summed
    fft = convolve(image, kernel, mode=mode, cval=cval, method="fft")
    assert np.abs(fft.astype(np.float64) - image).max() <= tolerance(image, kernel)


@SETTINGS
@given(st.data(), kernels(), modes, methods, st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(data, kernel, mode, method, a, b):
    x = data.draw(images(dtype=np.float64))
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-1, 1)))
    # Constant mode with cval != 0 is affine, not linear; cval=0 keeps it linear.
    lhs = convolve(a * x + b * y, kernel, mode=mode, method=method)
    rhs = (a * convolve(x, kernel, mode=mode, method=method)
           + b * convolve(y, kernel, mode=mode, method=method))
    scale = (abs(a) + abs(b)) * float(np.abs(kernel).sum()) * 3
    assert np.abs(lhs - rhs).max() <= 1e-10 * max(scale, 1.0)


@SETTINGS
@given(images(), kernels(), methods, st.integers(-10, 10), st.integers(-10, 10))
def test_wrap_commutes_with_circular_shifts(image, kernel, method, dy, dx):
    shifted = np.roll(image, (dy, dx), axis=(0, 1))
    lhs = convolve(shifted, kernel, mode="wrap", method=method)
    rhs = np.roll(convolve(image, kernel, mode="wrap", method=method), (dy, dx), axis=(0, 1))
    if method == "direct" and plan(image.shape, kernel, dtype=image.dtype).box is None:
        # Each output sample is the same sum of the same products in the same order.
        # (Not for a box: its running sum carries along the rows, so the order differs.)
        np.testing.assert_array_equal(lhs, rhs)
    else:
        assert np.abs(lhs.astype(np.float64) - rhs).max() <= tolerance(image, kernel)


@SETTINGS
@given(images(), kernels(non_negative=True), modes, methods, st.floats(0, 1))
def test_normalised_non_negative_kernel_stays_within_the_input_range(image, kernel, mode,
                                                                     method, t):
    if kernel.sum() == 0:
        kernel = kernel + 1.0
    kernel = kernel / kernel.sum()
    low, high = float(image.min()), float(image.max())
    cval = low + t * (high - low)  # a border inside the range keeps constant mode in it too
    out = convolve(image, kernel, mode=mode, cval=cval, method=method)
    slack = tolerance(image, kernel)
    assert out.min() >= low - slack
    assert out.max() <= high + slack


@SETTINGS
@given(images(), kernels(), modes, methods)
def test_dtype_and_shape_are_kept(image, kernel, mode, method):
    out = convolve(image, kernel, mode=mode, method=method)
    assert out.shape == image.shape
    assert out.dtype == image.dtype


@SETTINGS
@given(hnp.arrays(st.sampled_from([np.uint8, np.int16, np.int32]), (5, 6),
                  elements=st.integers(0, 100)), kernels(), methods)
def test_integer_input_gives_float64(image, kernel, method):
    out = convolve(image, kernel, method=method)
    assert out.dtype == np.float64
    assert out.shape == image.shape
