"""A pytest plugin that runs scipy.ndimage's own filter tests against convtool's engine.

Loaded into scipy's installed test suite (see ``tests/test_peer_scipy.py``), it routes
scipy's convolve/correlate core through :func:`convtool.engine.convolve` wherever the
arguments are ones convtool takes: float arrays, a kernel of the array's rank (up to 3-D),
the five classic modes, no origin, output array or axes (and odd-sized kernels for
correlate, whose centre scipy places differently for even sizes). Everything else stays
scipy's own, so the suite's checks of arguments and dtypes still pass through. At the end it
prints how many calls convtool answered.
"""

import numpy as np
import pytest
import scipy.ndimage._filters as scipy_filters

from convtool import engine

_SCIPY_CORE = scipy_filters._correlate_or_convolve
_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
CALLS = {"convtool": 0}


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
    CALLS["convtool"] += 1
    return engine.convolve(a, k, mode=mode, cval=cval).astype(a.dtype)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # Patched per test: scipy's collection registers its functions by identity.
    scipy_filters._correlate_or_convolve = core
    try:
        yield
    finally:
        scipy_filters._correlate_or_convolve = _SCIPY_CORE


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"convtool engine calls: {CALLS['convtool']}")
