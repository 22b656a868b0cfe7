"""``convolve``: check the input, take or make a :class:`Plan`, and run it."""

from __future__ import annotations

import math
import operator

import numpy as np

from convtool.engine import _bands, direct, fft
from convtool.engine._bands import SERIAL, Workers, check_threads
from convtool.engine.analysis import compute_dtype
from convtool.engine.modes import mode_lines, normalize_method, normalize_mode
from convtool.engine.planner import Plan, plan, shape3
from convtool.errors import UsageError


def _as_float(array) -> np.ndarray:
    """C-contiguous, native-endian float32 (for float32 input) or float64 (the rest)."""
    a = np.asarray(array)
    if np.issubdtype(a.dtype, np.complexfloating):
        msg = "convolve() takes real arrays, not complex ones"
        raise UsageError(msg)
    if a.dtype.kind not in "biuf":
        msg = f"convolve() takes arrays of numbers, got dtype {a.dtype}"
        raise UsageError(msg)
    # A copy only when needed: views with other strides, other byte orders, other types.
    return np.ascontiguousarray(a, dtype=compute_dtype(a.dtype))


def _plan_for(a: np.ndarray, kernel, given, mode: str, method: str) -> Plan:
    """The plan to run: ``given`` when it was made for this array, else a new one from it."""
    if given is None:
        if kernel is None:
            msg = "convolve() needs a kernel or a plan"
            raise UsageError(msg)
        return plan(a.shape, kernel, dtype=a.dtype, mode=mode, method=method)
    if not isinstance(given, Plan):
        msg = f"plan must be a convtool.engine.Plan, got {type(given).__name__}"
        raise UsageError(msg)
    if kernel is not None and kernel is not given.kernel:
        k = np.asarray(kernel, dtype=np.float64)
        if k.shape != given.kernel.shape or not np.array_equal(k, given.kernel):
            msg = "the kernel differs from the plan's kernel: pass one or the other"
            raise UsageError(msg)
    if (given.shape == a.shape and given.dtype == a.dtype and given.mode == mode
            and method in ("auto", given.method)):
        return given
    # Another shape, dtype or method: the plan lends its kernel analysis (no SVD again).
    return plan(a.shape, given, dtype=a.dtype, mode=mode, method=method)


def _run_2d(a3, p: Plan, mode, cval, workers, rows):
    """The plan's 2-D run over ``a3`` (H, W, C): output ``rows`` only (start, stop) on the
    direct paths; the FFT makes them all."""
    if p.method == "fft":
        kind, factors = p.fft
        if kind == "separable":
            return fft.separable(a3, factors[0], factors[1], mode, cval, workers)
        return fft.full(a3, p.analysis.kernel, mode, cval, workers)
    kind, payload = p.direct
    if kind == "box":
        kh, kw = p.analysis.kernel.shape
        return direct.pairs(a3, [(np.ones(kh), np.ones(kw))], mode, cval, workers, box=payload,
                            rows=rows)
    if kind == "pairs":
        return direct.pairs(a3, list(payload), mode, cval, workers, rows=rows)
    return direct.full(a3, p.analysis.kernel, mode, cval, workers, rows=rows)


def _check_rows(rows, h: int) -> tuple[int, int]:
    """``rows`` as ``(start, stop)`` within ``0..h``."""
    try:
        start, stop = (int(operator.index(v)) for v in rows)
    except (TypeError, ValueError):
        msg = f"rows must be a pair of whole numbers (start, stop), got {rows!r}"
        raise UsageError(msg) from None
    if not 0 <= start <= stop <= h:
        msg = f"rows must satisfy 0 <= start <= stop <= {h} (the array's first axis), got {rows!r}"
        raise UsageError(msg)
    return start, stop


def convolve(array, kernel=None, *, mode: str = "reflect", cval: float = 0.0,
             method: str = "auto", threads: int | None = None, plan: Plan | None = None,
             rows: tuple[int, int] | None = None) -> np.ndarray:
    """Convolve ``array`` with ``kernel`` over its leading axes.

    This is the mathematical convolution (the kernel is flipped), with the same
    output as ``scipy.ndimage.convolve`` for a kernel padded with ones along the
    channel axes.

    Parameters
    ----------
    array : array_like, shape (H, W[, C]) or (N[, C])
        Data to filter: real numbers of any layout (views, Fortran order,
        negative strides, read-only, either byte order). float32 is computed
        and returned as float32; everything else (float64, float16, integers,
        bool) as float64. Complex arrays are refused (filter the real and
        imaginary parts apart).
    kernel : array_like
        1-D or N-D weights, with at most ``array.ndim`` dimensions. A kernel of
        ``k`` dimensions filters the first ``k`` axes; the remaining axes
        (colour channels) are filtered independently. May be omitted when
        ``plan`` is given.
    mode : {"reflect", "mirror", "nearest", "wrap", "constant"}
        How the array is extended beyond its edges, drawn for the row ``a b c d``
        (the table in :mod:`convtool.engine.modes`)::

MODE_DIAGRAMS

        Aliases: ``"edge"`` for ``"nearest"``, and scipy's ``"grid-mirror"``,
        ``"grid-wrap"``, ``"grid-constant"``.
    cval : float
        The value outside the array for ``mode="constant"``.
    method : {"auto", "direct", "fft"}
        ``"auto"`` runs the plan's method (:func:`convtool.engine.plan`).
    threads : int, optional
        Threads to share the work among; by default one per available core.
        The result does not depend on it, except for box kernels run as running
        sums, whose sum restarts at each thread's first row: their last bit may
        differ between thread counts.
    plan : Plan, optional
        A plan from :func:`convtool.engine.plan` for this kernel. When it was
        made for this shape, dtype and mode it runs as it is; otherwise its
        kernel analysis (rank, factors, box) is reused, so the SVD of a large
        kernel is not repeated.
    rows : (int, int), optional
        Make only the output rows ``start:stop`` (along the first axis): the
        array's other rows are the neighbours they are, and the boundary mode
        acts only beyond the array's own edges. The result is
        ``convolve(array, ...)[start:stop]`` (to float rounding: the running
        sums of a box kernel, for one, restart at ``start``), without the work
        on the other rows: a band of an image, with enough rows above and
        below, is filtered as it is in the whole image.

    Returns
    -------
    ndarray
        A new C-contiguous array of the same shape (``stop - start`` rows with
        ``rows``): float32 for float32 input, float64 otherwise.

    Notes
    -----
    For an even kernel size ``k`` the origin is at index ``k // 2`` of the
    kernel, as in scipy.ndimage.convolve: ``[1, 1]`` adds each sample to the
    one after it.

    The direct method works on bands of rows small enough to stay in cache,
    folds symmetric taps, splits a kernel of low numerical rank into separable
    pairs, and filters a box kernel (all values equal) by running sums, whose
    time does not grow with the box. The FFT method transforms each axis alone
    for a separable kernel. Both are exact to float rounding: every shortcut
    (rank, symmetry) is taken only within ``SEPARABLE_RTOL`` of the kernel for
    float32 data (below its resolution), ``SEPARABLE_RTOL_FLOAT64`` for float64.
    A kernel of integers times a power of two (sobel, scharr, prewitt) filters
    integer-valued data exactly with the direct method.

    Examples
    --------
    >>> import numpy as np
    >>> convolve(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 1.0]), mode="constant")
    array([3., 5., 7., 9., 5.])
    """
    a = _as_float(array)
    mode = normalize_mode(mode)
    method = normalize_method(method)
    nthreads = check_threads(threads)
    cval = float(cval)
    if not math.isfinite(cval):
        msg = f"cval must be a finite number, got {cval}"
        raise UsageError(msg)
    if a.ndim == 0:
        msg = "convolve() takes an array of 1 or more dimensions, got a scalar"
        raise UsageError(msg)
    p = _plan_for(a, kernel, plan, mode, method)
    span = None if rows is None else _check_rows(rows, a.shape[0])
    if span == (0, a.shape[0]):
        span = None
    if a.size == 0:
        return a[slice(*span) if span else slice(None)].copy()
    if p.rank is None:  # three or more kernel dimensions
        run = fft.nd if p.method == "fft" else direct.nd
        return _rows_of(run(a, p.kernel, mode, cval), span)
    s3 = shape3(a.shape, p.kernel.ndim)
    a3 = a.reshape(s3)
    # The direct paths make just the rows asked for when the array's first axis is H.
    own = span if s3[0] == a.shape[0] and p.method == "direct" else None
    workers = Workers(nthreads) if nthreads > 1 and a.size >= _bands.THREAD_MIN_SAMPLES else SERIAL
    with workers:
        out = _run_2d(a3, p, mode, cval, workers, own)
    if span is None:
        return out.reshape(a.shape)
    if own is None:
        return _rows_of(out.reshape(a.shape), span)
    return out.reshape((span[1] - span[0], *a.shape[1:]))


def _rows_of(result: np.ndarray, span) -> np.ndarray:
    return result if span is None else np.ascontiguousarray(result[span[0]:span[1]])


# The mode table is written once (convtool.engine.modes) and drawn here.
if convolve.__doc__:  # None under python -OO
    convolve.__doc__ = convolve.__doc__.replace(
        "MODE_DIAGRAMS", "\n".join("            " + line for line in mode_lines()))
