"""A pytest plugin that runs scipy.ndimage's own filter tests against convtool's engine.

Loaded into scipy's installed test suite (see ``tests/test_peer_scipy.py``), it routes
two of scipy's cores through :func:`convtool.engine.convolve` wherever the arguments are
ones convtool takes:

- convolve/correlate: float arrays, a kernel of the array's rank (up to 3-D), the five
  classic modes, no origin, output array or axes (and odd-sized kernels for correlate,
  whose centre scipy places differently for even sizes);
- correlate1d, which gaussian_filter, sobel, prewitt and convolve1d are made of: float64
  arrays, odd-sized weights, no origin, the five classic modes, any axis. (float32 stays
  scipy's: scipy sums float32 data in float64 and its tests hold it to that, e.g. a
  gaussian_filter's output summing to the input's within 1.5 in 5e7, where convtool's
  float32 weights alone are 4e-8 off.) Along the first
  axis the engine gets a 1-D kernel (its column pass, the other axes as channels), along
  any other a ``(1, K)`` kernel with that axis second (its row pass, the axes after it
  interleaved as channels), so both passes run with long kernels as well as short ones.

Everything else stays scipy's own, so the suite's checks of arguments and dtypes still
pass through. At the end it prints how many calls convtool answered, and how many of them
had kernels of 9 taps or more (the engine's matrix-product passes).
"""

import numpy as np
import pytest
import scipy.ndimage._filters as scipy_filters

from convtool import engine

_SCIPY_CORE = scipy_filters._correlate_or_convolve
_SCIPY_1D = scipy_filters.correlate1d
_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
CALLS = {"convtool": 0, "long": 0}


def _ours(input, weights, output, mode, cval, origin, convolution, axes) -> bool:
    a, w = np.asarray(input), np.asarray(weights)
    return (output is None and axes is None and bool(np.all(np.asarray(origin) == 0))
            and a.dtype.kind == "f" and w.dtype.kind in "fiub" and w.ndim == a.ndim <= 3
            and mode in _MODES and a.size > 0 and w.size > 0
            and (convolution or all(s % 2 for s in w.shape)))


def core(input, weights, output, mode, cval, origin, convolution, axes):
    if not _ours(input, weights, output, mode, cval, origin, convolution, axes):
        return _SCIPY_CORE(input, weights, output, mode, cval, origin, convolution, axes)
    a = np.asarray(input)
    k = np.asarray(weights, dtype=float)
    if not convolution:  # correlation is convolution with the kernel turned around
        k = k[tuple(slice(None, None, -1) for _ in range(k.ndim))]
    _count(k)
    return engine.convolve(a, k, mode=mode, cval=cval).astype(a.dtype)


def _count(kernel) -> None:
    CALLS["convtool"] += 1
    CALLS["long"] += max(kernel.shape) >= 9


def _ours_1d(a, w, axis, output, mode, origin) -> bool:
    return (isinstance(axis, int) and -a.ndim <= axis < a.ndim and origin == 0
            and a.dtype == np.float64 and a.size > 0 and w.ndim == 1 and w.size % 2 == 1
            and w.dtype.kind in "fiub" and mode in _MODES
            and (output is None or (isinstance(output, np.ndarray) and output.dtype.kind == "f"
                                    and output.shape == a.shape)))


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    a, w = np.asarray(input), np.asarray(weights)
    if not _ours_1d(a, w, axis, output, mode, origin):
        return _SCIPY_1D(input, weights, axis, output, mode, cval, origin)
    axis %= a.ndim
    k = w[::-1].astype(float)  # correlation is convolution with the weights turned around
    _count(k)
    if axis == 0:
        result = engine.convolve(a, k, mode=mode, cval=cval)
    else:
        moved = np.moveaxis(a, axis, 1)
        result = np.moveaxis(engine.convolve(moved, k[None, :], mode=mode, cval=cval), 1, axis)
    if output is None:
        return result.astype(a.dtype)
    output[...] = result
    return output


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # Patched per test: scipy's collection registers its functions by identity.
    scipy_filters._correlate_or_convolve = core
    scipy_filters.correlate1d = correlate1d
    try:
        yield
    finally:
        scipy_filters._correlate_or_convolve = _SCIPY_CORE
        scipy_filters.correlate1d = _SCIPY_1D


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"convtool engine calls: {CALLS['convtool']}, "
                                f"with 9 taps or more: {CALLS['long']}")
