"""The planner: one place where the method and its passes are decided, by a cost model.

:func:`plan` analyses the kernel (once: :mod:`convtool.engine.analysis` caches
it), estimates the seconds of each method from a count of its work, and returns
a frozen :class:`Plan`. :func:`choose_method` is ``plan(...).method``, and
:func:`convtool.engine.convolve` runs exactly the plan it is given or makes.

Cost-model constants (seconds), fitted on the development machine (2 shared
cores, default threads) by ``PYTHONPATH=src python benchmarks/calibrate.py``
(least squares on log time over 117 runs; model/measured within 0.3-2.0x for
direct, 0.5-1.5x for fft, medians 1.04 and 0.99):

``DIRECT_COST``
    one ufunc pass over one sample (a multiply, add or copy in cache)
``BOX_COLUMN_OPS``
    passes per sample of the box's running sum down the columns (a constant,
    mostly call overhead). Fitted at 19.2 before the sum went from three ufunc
    calls per row to one; set by hand to 8 after timing the box against folded
    taps (method="direct", both paths forced, median of 7-30, float32 RGB
    256x256 to 4000x3000): the box won from 5x5 up (0.6-0.8x the time; 1.08x at
    5x5 on 256x256) and tied at 3x3 (0.86-1.2x), so 8 puts the switch between 3
    and 5 (3x3: 12 passes against 10 folded; 5x5: 13 against 16).
``MATMUL_PASS``, ``MATMUL_TAP``
    a 1-D pass of ``k >= MIN_TAPS`` taps (``ROW_MIN_TAPS`` along rows) run as matrix products
    (:mod:`convtool.engine.matmul`) costs ``MATMUL_PASS + MATMUL_TAP * k``
    passes per sample (the row pass with its two turns of the band), and a
    non-separable kernel of ``kh >= MIN_TAPS`` rows ``MATMUL_COLUMN +
    MATMUL_TAP * kh`` per kernel column. Fitted by hand to forced direct runs
    on 768x1024 and 3000x4000 float32 RGB (Gaussians of 5-161 taps: 26-98
    passes a sample for both passes; random kernels of 5-21 rows: 7.6-10 per
    column), in the units of ``DIRECT_COST``.
``ROW_BLOCK_PASS``, ``ROW_BLOCK_TAP``
    a row pass of ``k`` taps by blocks of pixels (:func:`convtool.engine.matmul.row_pass`,
    for 1-4 channels and up to the taps of ``ROW_BLOCKS``) costs ``ROW_BLOCK_PASS +
    ROW_BLOCK_TAP * k`` passes per sample: fitted by hand to single-thread runs of the pass
    alone on 1 MB bands of 4000-pixel rows (RGB: 6.1, 8.2 and 12.9 units for 5, 9 and 17
    taps; the turned pass 15 at 17 taps), in the units of ``DIRECT_COST``.
``FFT_COST``
    one unit of ``n * log2(n)`` of a real 1-D transform pair, per line
``FFT2_COST``
    one unit of ``N * log2(N)`` of a real 2-D transform pair, per channel (plus
    one for the kernel's transform)
``FFT_PASS_COST``
    padding and copying around the transforms, per sample and axis (the fit
    puts it at zero: it hides in ``FFT_COST``)
``OVERHEAD``
    fixed cost of a call (thread pool, planning); it cancels out of the choice
    and only matters to estimates

``log2(n)`` is counted as at least 1, so that no transform is ever priced at
zero (a 1x1 kernel on a one-sample axis once made the FFT look free).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from convtool.engine.analysis import analyse, compute_dtype, rank_rtol
from convtool.engine.matmul import MIN_TAPS, ROW_MIN_TAPS, row_kind
from convtool.engine.modes import normalize_method, normalize_mode
from convtool.errors import UsageError

DIRECT_COST = 1.16e-10
BOX_COLUMN_OPS = 8.0
MATMUL_PASS = 11.0
MATMUL_TAP = 0.24
MATMUL_COLUMN = 6.0
ROW_BLOCK_PASS = 4.0
ROW_BLOCK_TAP = 0.5
FFT_COST = 6.46e-10
FFT2_COST = 5.58e-10
FFT_PASS_COST = 0.0
OVERHEAD = 0.00536


def next_fast_len(n: int) -> int:
    """Smallest 5-smooth integer (2**a * 3**b * 5**c) not less than ``n``."""
    if n <= 6:
        return max(n, 1)
    best = 2 ** math.ceil(math.log2(n))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power of two that takes p35 to at least n.
            quotient = -(-n // p35)
            p2 = 1 << max(quotient - 1, 0).bit_length()
            candidate = p2 * p35
            if candidate < best:
                best = candidate
            if candidate == n:
                return n
            p35 *= 3
        p5 *= 5
    return best


def _nlogn(n: int) -> float:
    return n * max(1.0, math.log2(n))


def _fir_ops(k: int, symmetric: bool, least: int = MIN_TAPS) -> float:
    """Passes of a 1-D pass of ``k`` taps: matrix products from ``least`` taps, else ufuncs."""
    if k >= least:
        return MATMUL_PASS + MATMUL_TAP * k
    if k == 1:
        return 1.0
    return 3.0 * ((k + 1) // 2) - 1.0 if symmetric else 2.0 * k - 1.0


def _row_ops(k: int, symmetric: bool, channels: int) -> float:
    """Passes of a row pass of ``k`` taps over pixels of ``channels`` samples."""
    if row_kind(k, channels) == "blocks":
        return ROW_BLOCK_PASS + ROW_BLOCK_TAP * k
    return _fir_ops(k, symmetric, ROW_MIN_TAPS)


def _full_ops(kernel: np.ndarray) -> float:
    """Passes of a non-separable kernel: a column pass per kernel column, or a pass a tap."""
    kh, kw = kernel.shape
    if kh >= MIN_TAPS:
        columns = int(np.count_nonzero(np.any(kernel != 0, axis=0)))
        return columns * (MATMUL_COLUMN + MATMUL_TAP * kh)
    return 2.0 * kh * kw - 1.0


def _box_ops(kr: int) -> float:
    """Passes of the box path: a running sum down, doubling sums across."""
    return BOX_COLUMN_OPS + (kr.bit_length() - 1) + bin(kr).count("1") + 1.0


def shape3(shape, kernel_ndim: int) -> tuple[int, int, int]:
    """The ``(H, W, C)`` view of an array of ``shape`` for a 1-D or 2-D kernel.

    A 1-D kernel filters along W of ``(1, N, C)`` when C is small (shifts are
    then a few elements of one long row) and along H of ``(N, 1, C)`` otherwise.
    """
    if kernel_ndim == 2:
        return shape[0], shape[1], math.prod(shape[2:])
    rest = math.prod(shape[1:])
    return (1, shape[0], rest) if rest < 64 else (shape[0], 1, rest)


def _direct_choice(info, channels: int):
    """The cheapest direct way: ``(passes per sample, kind, payload)``; ties go to the first."""
    kh, kw = info.kernel.shape
    options = [(_full_ops(info.kernel), "full", None)]
    if info.box is not None and kh * kw > 1:
        options.append((_box_ops(kw), "box", info.box))
    ops = len(info.pairs) - 1.0
    for (col, row), (sc, sr) in zip(info.pairs, info.symmetric, strict=True):
        ops += _fir_ops(col.size, sc) + _row_ops(row.size, sr, channels)
    options.append((ops, "pairs", info.pairs))
    return min(options, key=lambda p: p[0])


def _fft_choice(s3, info):
    """How the FFT method would run: ``(work, kind, payload)``.

    ``work`` is ``(n log2 n units of 1-D transforms, N log2 N units of 2-D
    transforms, samples copied per axis)``; see :func:`fft_seconds`.
    """
    h, w, c = s3
    kh, kw = info.kernel.shape
    if info.rank == 1:
        col, row = info.pairs[0]
        units = passes = 0.0
        # The column transform runs unless only the row needs one (as fft.separable does).
        if col.size > 1 or row.size == 1:
            n = next_fast_len(h + col.size - 1)
            units += w * c * n * max(1.0, math.log2(n))
            passes += h * w * c
        if row.size > 1:
            n = next_fast_len(w + row.size - 1)
            units += h * c * n * max(1.0, math.log2(n))
            passes += h * w * c
        return (units, 0.0, passes), "separable", info.pairs[0]
    n = next_fast_len(h + kh - 1) * next_fast_len(w + kw - 1)
    return (0.0, (c + 1) * n * max(1.0, math.log2(n)), h * w * c), "full", None


def direct_seconds(work: float) -> float:
    """Estimated seconds of ``work`` ufunc passes times samples."""
    return DIRECT_COST * work + OVERHEAD


def fft_seconds(work) -> float:
    """Estimated seconds of FFT ``work`` as :attr:`Plan.work` gives it."""
    units, units2, passes = work
    return FFT_COST * units + FFT2_COST * units2 + FFT_PASS_COST * passes + OVERHEAD


def _pass_names(method: str, kind: str, s3, info) -> tuple[str, ...]:
    kh, kw = info.kernel.shape
    if method == "fft" and kind == "separable":
        col, row = info.pairs[0]
        names = []
        if col.size > 1 or row.size == 1:
            names.append(f"FFT down the columns, length {next_fast_len(s3[0] + col.size - 1)}")
        if row.size > 1:
            names.append(f"FFT along the rows, length {next_fast_len(s3[1] + row.size - 1)}")
        return tuple(names)
    if method == "fft":
        l0, l1 = next_fast_len(s3[0] + kh - 1), next_fast_len(s3[1] + kw - 1)
        return (f"2-D FFT of {l0}x{l1} per channel",)
    if kind == "box":
        return (f"running sums of {kh} rows", f"doubling sums of {kw} columns")
    if kind == "full":
        if kh >= MIN_TAPS:
            return (f"{kw} column passes of {kh} taps (matrix products), summed",)
        return (f"{kh}x{kw} taps, one pass each",)
    names = []
    for (col, row), (sc, sr) in zip(info.pairs, info.symmetric, strict=True):
        names.append(f"column of {col.size} taps{_how(col.size, sc, MIN_TAPS)}")
        rows = row_kind(row.size, s3[2])
        names.append(f"row of {row.size} taps"
                     + (" (matrix products, by blocks of pixels)" if rows == "blocks"
                        else _how(row.size, sr, ROW_MIN_TAPS)))
    return tuple(names)


def _how(k: int, symmetric: bool, least: int) -> str:
    if k >= least:
        return " (matrix products)"
    return " (folded)" if symmetric else ""


@dataclass(frozen=True, eq=False)
class Plan:
    """How a convolution of an array of ``shape`` and ``dtype`` with ``kernel`` runs.

    Attributes
    ----------
    shape, dtype, mode : the array's shape, the dtype computed in (float32 or
        float64) and the boundary mode planned for.
    method : ``"direct"`` or ``"fft"``: what runs.
    passes : tuple of str, the passes that method runs, in order.
    kernel : read-only float64 ndarray, the kernel as given.
    rank : int or None, the numerical rank within ``rtol`` (None for 3-D kernels).
    factors : tuple of ``(column, row)`` pairs of the low-rank split (one pair:
        separable); empty for 3-D kernels.
    box : float or None, the common value of a box kernel (all values equal).
    seconds : mapping, the estimated seconds of ``"direct"`` and ``"fft"``.
    rtol : float, the rank tolerance used (see :func:`convtool.engine.analysis.rank_rtol`).
    work : mapping, the counts the estimates come from: ``"direct"`` ufunc passes times
        samples, ``"fft"`` a tuple (1-D ``n log2 n`` units, 2-D ``N log2 N`` units,
        samples copied); see :func:`direct_seconds` and :func:`fft_seconds`. Empty for
        3-D kernels. ``benchmarks/calibrate.py`` fits the constants to them.
    direct, fft : how each method would run (``(kind, payload)``), for :func:`convolve`.
    analysis : the kernel's :class:`convtool.engine.analysis.KernelAnalysis`.
    """

    shape: tuple
    dtype: np.dtype
    mode: str
    method: str
    passes: tuple
    kernel: np.ndarray = field(repr=False)
    rank: int | None
    factors: tuple = field(repr=False)
    box: float | None
    seconds: MappingProxyType
    rtol: float
    work: MappingProxyType = field(repr=False)
    direct: tuple = field(repr=False, default=None)
    fft: tuple = field(repr=False, default=None)
    analysis: object = field(repr=False, default=None)

    @property
    def separable(self) -> bool:
        return self.rank == 1


def _kernel_of(kernel) -> np.ndarray:
    if isinstance(kernel, Plan):
        return kernel.kernel
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 0 or k.size == 0:
        msg = f"kernel must be a non-empty array of 1 or more dimensions, got shape {k.shape}"
        raise UsageError(msg)
    if not np.all(np.isfinite(k)):
        msg = "kernel contains NaN or infinite values"
        raise UsageError(msg)
    k = k.copy()
    k.setflags(write=False)
    return k


def _plan_nd(shape, k, dt, mode, method) -> Plan:
    """Kernels of three or more dimensions: one pass per tap, or an N-D FFT."""
    taps = math.prod(k.shape)
    fshape = [next_fast_len(shape[i] + k.shape[i] - 1) for i in range(k.ndim)]
    n = math.prod(fshape)
    seconds = MappingProxyType({
        "direct": DIRECT_COST * 2 * taps * math.prod(shape) + OVERHEAD,
        "fft": FFT2_COST * _nlogn(n) * math.prod(shape[k.ndim:]) + OVERHEAD})
    if method == "auto":
        method = "fft" if seconds["fft"] < seconds["direct"] else "direct"
    passes = (f"{k.ndim}-D FFT",) if method == "fft" else (f"{taps} taps, one pass each",)
    return Plan(tuple(shape), dt, mode, method, passes, k, None, (), None, seconds,
                rank_rtol(dt), MappingProxyType({}))


def plan(shape, kernel, *, dtype="float32", mode: str = "reflect", method: str = "auto") -> Plan:
    """Decide how to convolve an array of ``shape`` and ``dtype`` with ``kernel``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array to filter, ``(H, W[, C])`` or ``(N[, C])``.
    kernel : array_like or Plan
        The kernel; a :class:`Plan` lends its kernel and analysis (no SVD again).
    dtype : dtype, default float32
        The array's dtype; float32 is computed in float32, everything else in
        float64. It sets the rank tolerance, so pass the real one: image pixels
        from :func:`convtool.read_image` are float32, numpy's default is float64.
    mode : str
        The boundary mode (checked; the costs do not depend on it).
    method : {"auto", "direct", "fft"}
        ``"auto"`` takes the smaller estimate; the others are taken as given.

    Returns
    -------
    Plan

    Notes
    -----
    direct: ufunc passes over the data, ``DIRECT_COST`` seconds per pass and
    sample. A box kernel costs a constant number of passes (running sums); a
    kernel of numerical rank ``r`` costs ``r`` separable passes when that is
    cheaper than one pass per tap; symmetric 1-D factors fold their taps in
    pairs. fft: ``FFT_COST * n log2 n`` per transformed line of padded length
    ``n`` for a separable kernel, ``FFT2_COST * N log2 N`` per channel (and
    one for the kernel) for a 2-D transform of ``N`` points otherwise. The
    constants and their origin are in this module's docstring.

    Examples
    --------
    >>> import numpy as np
    >>> p = plan((3000, 4000, 3), np.full((101, 101), 1 / 101**2))
    >>> p.method, p.rank, p.passes
    ('direct', 1, ('running sums of 101 rows', 'doubling sums of 101 columns'))
    >>> plan((3000, 4000, 3), np.ones((1, 1))).method
    'direct'
    """
    mode = normalize_mode(mode)
    method = normalize_method(method)
    dt = compute_dtype(dtype)
    k = _kernel_of(kernel)
    shape = tuple(int(s) for s in shape)
    if k.ndim > len(shape):
        msg = f"kernel has {k.ndim} dimensions but the array only {len(shape)}"
        raise UsageError(msg)
    if k.ndim > 2:
        return _plan_nd(shape, k, dt, mode, method)
    s3 = shape3(shape, k.ndim)
    k2 = k if k.ndim == 2 else (k[None, :] if s3[0] == 1 else k[:, None])
    rtol = rank_rtol(dt)
    given = kernel.analysis if isinstance(kernel, Plan) else None
    if given is not None and given.rtol == rtol and given.kernel.shape == k2.shape:
        info = given  # the plan's own analysis, even if the cache has dropped it
    else:
        info = analyse(k2, rtol)
    ops, kind, payload = _direct_choice(info, s3[2])
    fft_work, fft_kind, fft_payload = _fft_choice(s3, info)
    work = {"direct": ops * math.prod(s3), "fft": fft_work}
    seconds = MappingProxyType({"direct": direct_seconds(work["direct"]),
                                "fft": fft_seconds(fft_work)})
    work = MappingProxyType(work)
    if method == "auto":
        method = "fft" if seconds["fft"] < seconds["direct"] else "direct"
    passes = _pass_names(method, fft_kind if method == "fft" else kind, s3, info)
    return Plan(shape, dt, mode, method, passes, k, info.rank, info.pairs, info.box, seconds,
                info.rtol, work, (kind, payload), (fft_kind, fft_payload), info)


def choose_method(shape, kernel, *, dtype="float32") -> str:
    """Pick ``"direct"`` or ``"fft"`` for convolving an array of ``shape`` with ``kernel``.

    Exactly ``plan(shape, kernel, dtype=dtype).method``, the method that
    ``convolve(array, kernel, method="auto")`` runs for an array of that shape
    and dtype (float32 by default, as image pixels are).
    """
    return plan(shape, kernel, dtype=dtype).method
