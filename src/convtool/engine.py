"""The convolution engine: N-D convolution of float arrays with boundary modes.

This module imports only numpy (and :mod:`convtool.errors`). It knows nothing of
images: an image is an array whose leading axes are filtered by the kernel and
whose trailing axes (colour channels) are filtered independently.

Boundary modes use scipy.ndimage's names. Extending the row ``a b c d``::

    reflect   d c b a | a b c d | d c b a    (numpy.pad calls this "symmetric")
    mirror      d c b | a b c d | c b a      (numpy.pad calls this "reflect")
    nearest   a a a a | a b c d | d d d d    (alias: "edge")
    wrap      a b c d | a b c d | a b c d
    constant  k k k k | a b c d | k k k k    (k = cval)
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from convtool.errors import UsageError

Mode = Literal["reflect", "mirror", "nearest", "wrap", "constant"]
Method = Literal["auto", "direct", "fft"]

MODES: tuple[str, ...] = ("reflect", "mirror", "nearest", "wrap", "constant")
METHODS: tuple[str, ...] = ("auto", "direct", "fft")
# Other names for the same boundary rules, as scipy.ndimage and ImageMagick spell them.
MODE_ALIASES: dict[str, str] = {
    "edge": "nearest",
    "grid-mirror": "reflect",
    "grid-wrap": "wrap",
    "grid-constant": "constant",
}
_NUMPY_PAD_MODE = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}

# A 2-D kernel whose second singular value is below this fraction of the first
# is treated as rank 1 (separable). float32 data cannot tell the difference;
# float64 data can, so its convolutions split kernels only to a much finer
# tolerance (a 1e-10 part of a kernel once went missing from a float64 result).
SEPARABLE_RTOL = 1e-6
SEPARABLE_RTOL_FLOAT64 = 1e-13


def _rank_rtol(dtype) -> float:
    return SEPARABLE_RTOL_FLOAT64 if np.dtype(dtype) == np.float64 else SEPARABLE_RTOL

# Cost-model constants (seconds), fitted on the development machine (2 shared
# cores, default threads) by ``PYTHONPATH=src python benchmarks/calibrate.py``
# (least squares on log time over 117 runs; model/measured within 0.3-2.0x for
# direct, 0.5-1.5x for fft, medians 1.04 and 0.99):
#   _DIRECT_COST    one ufunc pass over one sample (a multiply, add or copy in cache)
#   _BOX_COLUMN_OPS passes per sample of the box's running sum down the columns
#                   (a constant, mostly call overhead). Fitted at 19.2 before the sum
#                   went from three ufunc calls per row to one; set by hand to 8 after
#                   timing the box against folded taps (method="direct", both paths
#                   forced, median of 7-30, float32 RGB 256x256 to 4000x3000): the box
#                   won from 5x5 up (0.6-0.8x the time; 1.08x at 5x5 on 256x256) and
#                   tied at 3x3 (0.86-1.2x), so 8 puts the switch between 3 and 5
#                   (3x3: 12 passes against 10 folded; 5x5: 13 against 16).
#   _FFT_COST       one unit of n*log2(n) of a real 1-D transform pair, per line
#   _FFT2_COST      one unit of N*log2(N) of a real 2-D transform pair, per channel
#                   (plus one for the kernel's transform)
#   _FFT_PASS_COST  padding and copying around the transforms, per sample and axis
#                   (the fit puts it at zero: it hides in _FFT_COST)
#   _OVERHEAD       fixed cost of a call (thread pool, planning); it cancels out
#                   of the choice and only matters to estimates
_DIRECT_COST = 1.16e-10
_BOX_COLUMN_OPS = 8.0
_FFT_COST = 6.46e-10
_FFT2_COST = 5.58e-10
_FFT_PASS_COST = 0.0
_OVERHEAD = 0.00536


def normalize_mode(mode: str) -> str:
    """Return the canonical name of a boundary mode, or raise :class:`UsageError`."""
    name = str(mode).strip().lower()
    name = MODE_ALIASES.get(name, name)
    if name not in MODES:
        msg = (
            f"unknown mode {mode!r}: choose one of {', '.join(MODES)} "
            "(scipy.ndimage's names; numpy.pad's 'symmetric' is our 'reflect' "
            "and its 'reflect' is our 'mirror')"
        )
        raise UsageError(msg)
    return name


def normalize_method(method: str) -> str:
    """Return the canonical name of a method, or raise :class:`UsageError`."""
    name = str(method).strip().lower()
    if name not in METHODS:
        msg = f"unknown method {method!r}: choose one of {', '.join(METHODS)}"
        raise UsageError(msg)
    return name


def separable_factors(kernel: np.ndarray, rtol: float = SEPARABLE_RTOL):
    """Split a rank-1 2-D kernel into a column and a row vector.

    Parameters
    ----------
    kernel : ndarray, shape (KH, KW)
    rtol : float
        The kernel counts as rank 1 when its second singular value is at most
        ``rtol`` times its first.

    Returns
    -------
    (column, row) : tuple of 1-D float64 arrays with ``np.outer(column, row) == kernel``
        (to rounding), or ``None`` when the kernel is not separable.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        return None
    if k.shape[0] == 1:
        return np.ones(1), k[0].copy()
    if k.shape[1] == 1:
        return k[:, 0].copy(), np.ones(1)
    quick = _outer_factors(k)
    if quick is not None:
        column, row = quick
    else:
        u, s, vt = np.linalg.svd(k)
        if s[0] == 0.0:
            return np.zeros(k.shape[0]), np.zeros(k.shape[1])
        if s[1] > rtol * s[0]:
            return None
        scale = math.sqrt(s[0])
        column, row = u[:, 0] * scale, vt[0] * scale
    # Put the sign on the column so that a positive kernel has positive factors.
    if row.sum() < 0 or (row.sum() == 0 and row[np.argmax(np.abs(row))] < 0):
        column, row = -column, -row
    return column, row


def _outer_factors(k: np.ndarray):
    """Factors of an exactly rank-1 kernel without an SVD (which can take milliseconds).

    The row and column through the largest value are the factors when their
    outer product reproduces the kernel to rounding; the two are scaled to the
    same norm, as the SVD's would be.
    """
    i, j = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    peak = k[i, j]
    if peak == 0.0:
        return None
    column, row = k[:, j] / peak, k[i].copy()
    if np.max(np.abs(np.outer(column, row) - k)) > 1e-14 * abs(peak) * max(k.shape):
        return None
    # Give both factors the same norm. Norms are taken of vectors whose largest
    # value is 1: those of a tiny kernel's own values would underflow (1e-236
    # squared is 0) and divide by zero.
    ratio = abs(peak) * np.linalg.norm(row / peak) / np.linalg.norm(column)
    balance = math.sqrt(ratio)
    return column * balance, row / balance


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


def _as_float(array) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    if np.issubdtype(a.dtype, np.complexfloating):
        msg = "convolve() takes real arrays, not complex ones"
        raise UsageError(msg)
    return a.astype(np.float64)


def _check_kernel(kernel, ndim: int) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 0 or k.size == 0:
        msg = f"kernel must be a non-empty array of 1 to {ndim} dimensions, got shape {k.shape}"
        raise UsageError(msg)
    if k.ndim > ndim:
        msg = f"kernel has {k.ndim} dimensions but the array only {ndim}"
        raise UsageError(msg)
    if not np.all(np.isfinite(k)):
        msg = "kernel contains NaN or infinite values"
        raise UsageError(msg)
    return k


def _check_threads(threads) -> int:
    if threads is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        msg = f"threads must be a whole number >= 1 or None, got {threads!r}"
        raise UsageError(msg)
    return int(threads)


# ---------------------------------------------------------------------------
# Generic N-D paths (kernels of three or more dimensions). Images never get here.

def _pad(array: np.ndarray, kshape: tuple[int, ...], mode: str, cval: float) -> np.ndarray:
    """Pad the leading ``len(kshape)`` axes so a valid correlation keeps the size.

    The kernel's centre is at index ``k // 2`` of the (unflipped) kernel, as in
    scipy.ndimage.convolve, so an axis is padded by ``(k - 1) // 2`` before and
    ``k // 2`` after.
    """
    widths = [((k - 1) // 2, k // 2) for k in kshape]
    widths += [(0, 0)] * (array.ndim - len(kshape))
    if mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=cval)
    return np.pad(array, widths, mode=_NUMPY_PAD_MODE[mode])


def _convolve_direct_nd(array, kernel, mode, cval):
    padded = _pad(array, kernel.shape, mode, cval)
    flipped = kernel[tuple(slice(None, None, -1) for _ in range(kernel.ndim))]
    flipped = flipped.astype(array.dtype)
    shape = array.shape[:kernel.ndim]
    out = np.zeros_like(array)
    tmp = np.empty_like(array)
    for index in np.ndindex(*kernel.shape):
        w = flipped[index]
        if w == 0:
            continue
        window = tuple(slice(i, i + s) for i, s in zip(index, shape, strict=True))
        np.multiply(padded[window], w, out=tmp)
        out += tmp
    return out


def _convolve_fft_nd(array, kernel, mode, cval):
    nd = kernel.ndim
    axes = tuple(range(nd))
    padded = _pad(array, kernel.shape, mode, cval)
    fshape = [next_fast_len(padded.shape[i]) for i in axes]
    spec = np.fft.rfftn(padded, s=fshape, axes=axes)
    kspec = np.fft.rfftn(kernel, s=fshape, axes=axes).astype(spec.dtype)
    kspec = kspec.reshape(kspec.shape + (1,) * (array.ndim - nd))
    spec *= kspec
    full = np.fft.irfftn(spec, s=fshape, axes=axes)
    window = tuple(slice(kernel.shape[i] - 1, kernel.shape[i] - 1 + array.shape[i]) for i in axes)
    return np.ascontiguousarray(full[window], dtype=array.dtype)


# ---------------------------------------------------------------------------
# Building blocks of the 1-D and 2-D paths.
#
# The array is seen as ``(H, W, C)``: the kernel's axes first, every trailing
# axis flattened into C. With C last, a shift along W is a shift of ``C``
# elements of a row, so every tap is one ufunc call on a 2-D view whose rows
# are contiguous. Work is done in bands of rows small enough that all taps of a
# pass read from cache, and the bands are shared among threads (numpy ufuncs and
# pocketfft release the GIL).

# Bytes of one band buffer. Smaller bands fit in L2 but then the ~2 us cost of
# each ufunc call dominates; 1 MB bands stay in the (shared, 32 MB) L3 cache.
_BAND_BYTES = 1024 * 1024
# Arrays smaller than this many samples are filtered on the calling thread.
_THREAD_MIN_SAMPLES = 1 << 16


def _pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """Index into an axis of length ``n`` of each sample of the padded axis.

    -1 marks a sample outside the array in constant mode. Padding the indices
    with the mode's own rule makes kernels longer than the axis work too.
    """
    idx = np.arange(n, dtype=np.intp)
    if mode == "constant":
        return np.pad(idx, (before, after), mode="constant", constant_values=-1)
    return np.pad(idx, (before, after), mode=_NUMPY_PAD_MODE[mode])


def _chunks(n: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n))
    edges = [n * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts) if edges[i + 1] > edges[i]]


def _parallel(pool, fn, ranges) -> None:
    """Run ``fn(a, b)`` for every range, on the pool when there is one."""
    if pool is None or len(ranges) < 2:
        for a, b in ranges:
            fn(a, b)
        return
    for future in [pool.submit(fn, a, b) for a, b in ranges]:
        future.result()


def _rows(flat: np.ndarray, idx: np.ndarray, before: int, start: int, stop: int, cval: float,
          buf: np.ndarray) -> np.ndarray:
    """Padded rows ``start:stop`` of ``flat``: a view inside the array, else gathered."""
    if start >= before and stop <= before + flat.shape[0]:
        return flat[start - before:stop - before]
    sel = idx[start:stop]
    out = buf[:stop - start]
    np.take(flat, np.maximum(sel, 0), axis=0, out=out)
    out[sel < 0] = cval
    return out


def _border_plan(idx: np.ndarray, before: int, n: int):
    """How to fill each padding side of a band: ``(side, source)`` pairs for :func:`_fill_border`.

    ``source`` is None for a constant side, else the columns of the band to copy:
    a slice when the indices run by steps of -1, 0 or +1 (reflect, mirror,
    nearest and wrap, unless the kernel is wider than the axis), which numpy
    copies several times faster than an index array.
    """
    plan = []
    for part in (slice(0, before), slice(before + n, idx.size)):
        sel = idx[part]
        if sel.size == 0:
            continue
        if sel[0] < 0:  # constant mode: a whole side is outside
            plan.append((part, None))
            continue
        src = before + sel
        step = int(src[1] - src[0]) if src.size > 1 else 1
        if step in (-1, 0, 1) and np.all(np.diff(src) == step):
            if step == 0:
                plan.append((part, slice(int(src[0]), int(src[0]) + 1)))
            else:
                stop = int(src[-1]) + step
                plan.append((part, slice(int(src[0]), stop if stop >= 0 else None, step)))
        else:
            plan.append((part, src))
    return plan


def _fill_border(band: np.ndarray, plan, value: float) -> None:
    """Fill the padding columns of ``band`` (r, n + pad, C) from its middle columns."""
    for part, src in plan:
        if src is None:
            band[:, part] = value
        else:
            band[:, part] = band[:, src]


def _symmetry(f: np.ndarray) -> int:
    """+1 for symmetric taps, -1 for antisymmetric ones, else 0."""
    if f.size < 3:
        return 0
    tol = 1e-12 * float(np.abs(f).max())
    if np.all(np.abs(f - f[::-1]) <= tol):
        return 1
    if np.all(np.abs(f + f[::-1]) <= tol):
        return -1
    return 0


def _tap_terms(f: np.ndarray):
    """``(m, m2, w)`` terms of ``sum_m f[m] x[m]``; a folded pair adds ``x[m] ± x[m2]`` first."""
    k = f.size
    sign = _symmetry(f)
    if not sign:
        return [(m, None, float(f[m])) for m in range(k) if f[m] != 0], 0
    terms = []
    if k % 2 and f[k // 2] != 0:
        terms.append((k // 2, None, float(f[k // 2])))
    for m in range(k // 2):
        w = 0.5 * float(f[m] + sign * f[k - 1 - m])
        if w != 0:
            terms.append((m, k - 1 - m, w))
    return terms, sign


def _fir(src, taps, out: np.ndarray, tmp: np.ndarray) -> None:
    """``out = sum_m f[m] * src(m)``, folding symmetric taps: (x[m] ± x[K-1-m]) * w.

    ``taps`` is ``_tap_terms(f)``, worked out once per call rather than per band.
    """
    terms, sign = taps
    if not terms:
        out[...] = 0
        return
    pair = np.add if sign > 0 else np.subtract
    for n, (m, m2, w) in enumerate(terms):
        target = out if n == 0 else tmp
        if m2 is None:
            np.multiply(src(m), w, out=target)
        else:
            pair(src(m), src(m2), out=target)
            target *= w
        if n:
            out += tmp


def _window_sums(v: np.ndarray, k: int, c: int, w: int, out: np.ndarray, bufs) -> None:
    """Sums of ``k`` consecutive columns of ``v`` (r, (w + k - 1) * c) into ``out`` (r, w * c).

    Doubling: sums of 1, 2, 4, ... columns, each from two of the previous, and
    ``out`` adds one of them per set bit of ``k``: about ``2 log2 k`` passes, and
    each output is a balanced sum, so float32 stays accurate.
    """
    cur, length, width, offset, started, turn = v, w + k - 1, 1, 0, False, 0
    pending = None  # a first term still in ``v``, added to the second without a copy
    while k:
        if k & 1:
            seg = cur[:, offset * c:(offset + w) * c]
            if pending is not None:
                np.add(pending, seg, out=out)
                pending = None
            elif started:
                out += seg
            elif cur is v:
                pending = seg
            else:
                out[...] = seg
            started = True
            offset += width
        k >>= 1
        if k:
            nxt = bufs[turn][:, :(length - width) * c]
            np.add(cur[:, :(length - width) * c], cur[:, width * c:length * c], out=nxt)
            cur, length, width, turn = nxt, length - width, 2 * width, 1 - turn
    if pending is not None:
        out[...] = pending


def _box_weight(kernel: np.ndarray):
    """The common value of a kernel whose values are all equal (a box), else None."""
    flat = kernel.ravel()
    if flat.size >= 4 and flat[0] != 0 and np.all(flat == flat[0]):
        return float(flat[0])
    return None


def _low_rank(kernel: np.ndarray, rtol: float = SEPARABLE_RTOL):
    """Pairs ``(column, row)`` whose outer products sum to ``kernel`` within ``rtol``.

    The dropped singular values sum to at most ``rtol`` times the largest, which
    bounds the change of any output relative to the kernel's own scale.
    """
    quick = _outer_factors(kernel)
    if quick is not None:
        return [quick]
    u, s, vt = np.linalg.svd(kernel)
    if s[0] == 0.0:
        return [(np.zeros(kernel.shape[0]), np.zeros(kernel.shape[1]))]
    tail = np.cumsum(s[::-1])[::-1]  # tail[r] = sum of s[r:]
    rank = next((r for r in range(1, s.size) if tail[r] <= rtol * s[0]), s.size)
    return [(u[:, i] * s[i], vt[i].copy()) for i in range(rank)]


# ---------------------------------------------------------------------------
# Direct paths.

def _band_rows(h: int, row_elems: int, itemsize: int) -> int:
    return max(1, min(h, _BAND_BYTES // max(1, row_elems * itemsize)))


def _pieces(pool, h: int, band: int) -> int:
    """How many runs of bands to share among the threads.

    A few per thread balance the load; but no more than there are bands, since
    every piece pays each pass's ufunc-call overhead again.
    """
    workers = _workers(pool)
    return max(workers, min(4 * workers, -(-h // band)))


def _direct_pairs(a3, pairs, mode, cval, pool, box=None):
    """Sum over ``pairs`` of separable convolutions, band by band.

    ``pairs`` is a list of (column, row) weight vectors. With ``box`` (the value
    of every tap of a single pair of ones), the columns use a running sum
    (restarted now and then) and the rows doubling sums, so the time hardly
    depends on the size.
    """
    h, w, c = a3.shape
    dt = a3.dtype
    kc, kr = pairs[0][0].size, pairs[0][1].size
    rb, cb = (kc - 1) // 2, (kr - 1) // 2
    ridx = _pad_index(h, rb, kc // 2, mode)
    cidx = _pad_index(w, cb, kr // 2, mode)
    cplan = _border_plan(cidx, cb, w)
    flat = a3.reshape(h, w * c)
    out = np.empty((h, w, c), dt)
    oflat = out.reshape(h, w * c)
    wp = w + kr - 1
    band = _band_rows(h, wp * c, dt.itemsize)
    flipped = [(col[::-1].copy(), row[::-1].copy(), cval * float(col.sum())) for col, row in pairs]
    taps = [(_tap_terms(fc), _tap_terms(fr)) for fc, fr, _ in flipped]
    # The running sum down the columns is summed afresh every ``restart`` rows (at
    # most 1024), so its rounding drift stays below restart * eps of the window's
    # sum (6e-5 of it in float32 at worst), for ``kc / restart`` extra passes.
    # A whole number of bands, so that restarts fall on the first row of a band.
    restart = band * max(1, min(1024, max(256, 4 * kc)) // band)

    def work(h0, h1):
        vbuf = np.empty((band, wp * c), dt)
        tmp = np.empty((band, wp * c), dt)
        tmp2 = np.empty((band, wp * c), dt) if (len(pairs) > 1 or box is not None) else None
        gbuf = np.empty((band + kc - 1, w * c), dt) if box is None else None
        if box is not None:
            acc = np.empty(w * c, dt)
            hbuf = np.empty((band, w * c), dt)
            lbuf = np.empty((band, w * c), dt)

            def padded_row(p):
                i = ridx[p]
                return flat[i] if i >= 0 else cval
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            r = b - a
            for n, (fc, fr, side) in enumerate(flipped):
                v3 = vbuf[:r].reshape(r, wp, c)
                vmid = vbuf[:r, cb * c:(cb + w) * c]
                if box is not None:
                    # Running sum: row i = row i-1 + (padded row i+kc-1 - padded row i-1).
                    # The differences are one ufunc call per band, the sum one per row.
                    fresh = (a - h0) % restart == 0
                    if fresh:
                        i0 = ridx[a]
                        if i0 >= 0 and ridx[a + kc - 1] == i0 + kc - 1:
                            # The window lies inside the array: one call, the same sum
                            # in the same order as the loop below.
                            np.add.reduce(flat[i0:i0 + kc], axis=0, out=acc)
                        else:
                            acc[...] = padded_row(a)
                            for p in range(a + 1, a + kc):
                                acc += padded_row(p)
                    s0 = int(fresh)
                    diff = tmp[:r - s0, :w * c]
                    np.subtract(_rows(flat, ridx, rb, a + s0 + kc - 1, b + kc - 1, cval, hbuf),
                                _rows(flat, ridx, rb, a + s0 - 1, b - 1, cval, lbuf), out=diff)
                    if fresh:
                        vmid[0] = acc
                    for j in range(s0, r):
                        np.add(vmid[j - 1] if j else acc, diff[j - s0], out=vmid[j])
                    acc[...] = vmid[r - 1]
                    vmid *= box
                    side = cval * box * kc
                elif kc == 1:
                    np.multiply(flat[a:b], fc[0], out=vmid)
                else:
                    src = _rows(flat, ridx, rb, a, b + kc - 1, cval, gbuf)
                    _fir(lambda m, src=src, r=r: src[m:m + r], taps[n][0], vmid, tmp[:r, :w * c])
                target = oflat[a:b] if n == 0 else tmp2[:r, :w * c]
                if kr == 1 and box is None:
                    np.multiply(vmid, fr[0], out=target)
                else:
                    _fill_border(v3, cplan, side)
                    if box is not None:
                        _window_sums(vbuf[:r], kr, c, w, target, (tmp[:r], tmp2[:r]))
                    else:
                        _fir(lambda m, r=r: vbuf[:r, m * c:(m + w) * c], taps[n][1], target,
                             tmp[:r, :w * c])
                if n:
                    oflat[a:b] += target

    _parallel(pool, work, _chunks(h, _workers(pool) if box is not None else _pieces(pool, h, band)))
    return out


def _direct_full(a3, kernel, mode, cval, pool):
    """Non-separable 2-D kernel: every tap is a multiply-add of a shifted band."""
    h, w, c = a3.shape
    dt = a3.dtype
    kh, kw = kernel.shape
    rb, cb = (kh - 1) // 2, (kw - 1) // 2
    ridx = _pad_index(h, rb, kh // 2, mode)
    cplan = _border_plan(_pad_index(w, cb, kw // 2, mode), cb, w)
    flat = a3.reshape(h, w * c)
    out = np.empty((h, w, c), dt)
    oflat = out.reshape(h, w * c)
    wp = w + kw - 1
    band = _band_rows(h, wp * c, dt.itemsize)
    flipped = kernel[::-1, ::-1]
    taps = [(i, j, float(flipped[i, j])) for i in range(kh) for j in range(kw)
            if flipped[i, j] != 0]

    def work(h0, h1):
        pbuf = np.empty((band + kh - 1, wp * c), dt)
        gbuf = np.empty((band + kh - 1, w * c), dt)
        tmp = np.empty((band, w * c), dt)
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            r = b - a
            rows = r + kh - 1
            pbuf[:rows, cb * c:(cb + w) * c] = _rows(flat, ridx, rb, a, a + rows, cval, gbuf)
            _fill_border(pbuf[:rows].reshape(rows, wp, c), cplan, cval)
            target = oflat[a:b]
            if not taps:
                target[...] = 0
            for n, (i, j, wt) in enumerate(taps):
                view = pbuf[i:i + r, j * c:(j + w) * c]
                if n == 0:
                    np.multiply(view, wt, out=target)
                else:
                    np.multiply(view, wt, out=tmp[:r])
                    target += tmp[:r]

    _parallel(pool, work, _chunks(h, _pieces(pool, h, band)))
    return out


# ---------------------------------------------------------------------------
# FFT paths. Lengths are 5-smooth; the data stay float32 (complex64) for
# float32 input; the kernel's transform is made once and reused for every
# channel. A valid convolution of a padded axis of length N + K - 1 needs a
# transform of only that length: the circular wrap-around lands in the K - 1
# outputs that are thrown away.

def _workers(pool) -> int:
    return 1 if pool is None else pool._max_workers


def _complex(dt):
    return np.complex64 if dt == np.float32 else np.complex128


def _fft_axis0(flat, f, mode, cval, out, pool):
    """Convolve the columns of ``flat`` (H, M) with ``f`` by FFT into ``out`` (H, M)."""
    h, m = flat.shape
    k = f.size
    length = next_fast_len(h + k - 1)
    ridx = _pad_index(h, (k - 1) // 2, k // 2, mode)
    kspec = np.fft.rfft(f, n=length).astype(_complex(flat.dtype))[:, None]
    step = max(8, min(256, m // (4 * _workers(pool)) or 8))

    def work(c0, c1):
        for a in range(c0, c1, step):
            b = min(a + step, c1)
            # Fancy indexing, not np.take: take copies a non-contiguous source whole.
            cols = flat[np.maximum(ridx, 0), a:b]
            if mode == "constant":
                cols[ridx < 0] = cval
            spec = np.fft.rfft(cols, n=length, axis=0)
            spec *= kspec
            out[:, a:b] = np.fft.irfft(spec, n=length, axis=0)[k - 1:k - 1 + h]

    _parallel(pool, work, _chunks(m, 4 * _workers(pool)))


def _fft_axis1(a3, f, mode, cval, out, pool):
    """Convolve along axis 1 of ``a3`` (H, W, C) by FFT into ``out``; may be ``a3`` itself."""
    h, w, c = a3.shape
    k = f.size
    length = next_fast_len(w + k - 1)
    cidx = _pad_index(w, (k - 1) // 2, k // 2, mode)
    kspec = np.fft.rfft(f, n=length).astype(_complex(a3.dtype))[None, :, None]
    band = _band_rows(h, length * c, 8)

    def work(h0, h1):
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            rows = np.take(a3[a:b], np.maximum(cidx, 0), axis=1)
            if mode == "constant":
                rows[:, cidx < 0] = cval
            spec = np.fft.rfft(rows, n=length, axis=1)
            spec *= kspec
            out[a:b] = np.fft.irfft(spec, n=length, axis=1)[:, k - 1:k - 1 + w]

    _parallel(pool, work, _chunks(h, 4 * _workers(pool)))


def _fft_separable(a3, col, row, mode, cval, pool):
    h, w, c = a3.shape
    out = np.empty_like(a3)
    if col.size > 1 or row.size == 1:
        _fft_axis0(a3.reshape(h, w * c), col, mode, cval, out.reshape(h, w * c), pool)
        src, side = out, cval * float(col.sum())
    else:
        src, side = a3, cval
        row = row * col[0]
    if row.size > 1:
        _fft_axis1(src, row, mode, side, out, pool)
    elif src is not out:
        np.multiply(src, row[0], out=out)
    else:
        out *= row[0]
    return out


def _fft_full(a3, kernel, mode, cval, pool):
    """2-D FFT, one channel at a time; each stage split among the threads."""
    h, w, c = a3.shape
    kh, kw = kernel.shape
    l0, l1 = next_fast_len(h + kh - 1), next_fast_len(w + kw - 1)
    ridx = _pad_index(h, (kh - 1) // 2, kh // 2, mode)
    cidx = _pad_index(w, (kw - 1) // 2, kw // 2, mode)
    ctype = _complex(a3.dtype)
    parts = 4 * _workers(pool)
    # The kernel's transform, in the data's precision: its rows, then the columns.
    krows = np.fft.rfft(kernel.astype(a3.dtype), n=l1, axis=1)
    kspec = np.empty((l0, l1 // 2 + 1), ctype)

    def kernel_columns(c0, c1):
        kspec[:, c0:c1] = np.fft.fft(krows[:, c0:c1], n=l0, axis=0)

    _parallel(pool, kernel_columns, _chunks(l1 // 2 + 1, parts))
    spec = np.empty((l0, l1 // 2 + 1), ctype)
    out = np.empty_like(a3)
    nrows = h + kh - 1
    band = _band_rows(nrows, l1, 8)
    for ch in range(c):
        plane = a3[:, :, ch]

        def forward_rows(p0, p1, plane=plane):
            for a in range(p0, p1, band):
                b = min(a + band, p1)
                sel = ridx[a:b]
                rows = plane[np.ix_(np.maximum(sel, 0), np.maximum(cidx, 0))]
                if mode == "constant":
                    rows[sel < 0] = cval
                    rows[:, cidx < 0] = cval
                np.fft.rfft(rows, n=l1, axis=1, out=spec[a:b])

        def columns(c0, c1):
            step = 64
            for a in range(c0, c1, step):
                b = min(a + step, c1)
                block = np.fft.fft(spec[:, a:b], axis=0)
                block *= kspec[:, a:b]
                spec[:, a:b] = np.fft.ifft(block, axis=0)

        def inverse_rows(p0, p1, ch=ch):
            for a in range(p0, p1, band):
                b = min(a + band, p1)
                full = np.fft.irfft(spec[kh - 1 + a:kh - 1 + b], n=l1, axis=1)
                out[a:b, :, ch] = full[:, kw - 1:kw - 1 + w]

        # Zero padding, for every channel: the previous channel's inverse left the
        # tail of its result here. Those values would only reach discarded outputs,
        # but they grow with each channel and their rounding reaches every output.
        spec[nrows:] = 0
        _parallel(pool, forward_rows, _chunks(nrows, parts))
        _parallel(pool, columns, _chunks(l1 // 2 + 1, parts))
        _parallel(pool, inverse_rows, _chunks(h, parts))
    return out


# ---------------------------------------------------------------------------
# Choosing a method.

def _as_3d(a: np.ndarray, kernel: np.ndarray):
    """View ``a`` as (H, W, C) and ``kernel`` as 2-D, with the filtered axes first.

    A 1-D kernel filters along W of ``(1, N, C)`` when C is small (shifts are
    then a few elements of one long row) and along H of ``(N, 1, C)`` otherwise.
    """
    if kernel.ndim == 2:
        return a.reshape(a.shape[0], a.shape[1], -1), kernel
    rest = math.prod(a.shape[1:])
    if rest < 64:
        return a.reshape(1, a.shape[0], rest), kernel[None, :]
    return a.reshape(a.shape[0], 1, rest), kernel[:, None]


def _fir_ops(k: int, symmetric: bool) -> float:
    """Ufunc passes of a 1-D FIR of ``k`` taps (see :func:`_fir`)."""
    if k == 1:
        return 1.0
    return 3.0 * ((k + 1) // 2) - 1.0 if symmetric else 2.0 * k - 1.0


def _box_ops(kc: int, kr: int) -> float:
    """Passes of the box path: a running sum down, doubling sums across."""
    return _BOX_COLUMN_OPS + (kr.bit_length() - 1) + bin(kr).count("1") + 1.0


def _direct_plans(kernel: np.ndarray, rtol: float = SEPARABLE_RTOL):
    """The cheapest way to run a 2-D kernel directly.

    Returns ``(ufunc passes per sample, kind, payload, pairs)``, where ``pairs``
    is the kernel's low-rank split (one pair when it is separable).
    """
    kh, kw = kernel.shape
    plans = [(2.0 * kh * kw - 1.0, "full", None)]
    box = _box_weight(kernel)
    if box is not None and kh * kw > 1:
        plans.append((_box_ops(kh, kw), "box", box))
    if kh == 1 or kw == 1:
        pairs = [(kernel[:, 0].copy(), np.ones(1))] if kw == 1 else \
            [(np.ones(1), kernel[0].copy())]
    else:
        pairs = _low_rank(kernel, rtol)
    ops = 0.0
    for col, row in pairs:
        ops += _fir_ops(col.size, _symmetry(col) != 0) + _fir_ops(row.size, _symmetry(row) != 0)
    ops += len(pairs) - 1.0
    plans.append((ops, "pairs", pairs))
    return (*min(plans, key=lambda p: p[0]), pairs)


def _fft_plan(shape3, kernel: np.ndarray, pairs):
    """How the FFT method would run: ``(work, kind, payload)``.

    ``work`` is ``(n log2 n units of 1-D transforms, N log2 N units of 2-D
    transforms, samples copied per axis)``; see :func:`_fft_seconds`.
    """
    h, w, c = shape3
    kh, kw = kernel.shape
    factors = pairs[0] if len(pairs) == 1 else None
    if factors is not None:
        col, row = factors
        units, passes = 0.0, 0.0
        if col.size > 1:
            n = next_fast_len(h + col.size - 1)
            units += w * c * n * math.log2(n)
            passes += h * w * c
        if row.size > 1:
            n = next_fast_len(w + row.size - 1)
            units += h * c * n * math.log2(n)
            passes += h * w * c
        return (units, 0.0, passes), "separable", factors
    n = next_fast_len(h + kh - 1) * next_fast_len(w + kw - 1)
    return (0.0, (c + 1) * n * math.log2(n), h * w * c), "full", None


def _fft_seconds(work) -> float:
    units, units2, passes = work
    return _FFT_COST * units + _FFT2_COST * units2 + _FFT_PASS_COST * passes + _OVERHEAD


def _shape3(shape, kernel_ndim: int):
    if kernel_ndim == 2:
        return shape[0], shape[1], math.prod(shape[2:])
    rest = math.prod(shape[1:])
    return (1, shape[0], rest) if rest < 64 else (shape[0], 1, rest)


def _plans(shape, kernel: np.ndarray, rtol: float = SEPARABLE_RTOL):
    """The direct and FFT plans for a 1-D or 2-D kernel, each ``(work, kind, payload)``.

    The direct work is ufunc passes times samples; see :func:`_direct_seconds`.
    """
    shape3 = _shape3(tuple(shape), kernel.ndim)
    k2 = kernel if kernel.ndim == 2 else (
        kernel[None, :] if shape3[0] == 1 else kernel[:, None])
    ops, kind, payload, pairs = _direct_plans(k2, rtol)
    return (ops * math.prod(shape3), kind, payload), _fft_plan(shape3, k2, pairs)


def _direct_seconds(work) -> float:
    return _DIRECT_COST * work + _OVERHEAD


def choose_method(shape, kernel) -> str:
    """Pick ``"direct"`` or ``"fft"`` for convolving an array of ``shape`` with ``kernel``.

    Each method's time is estimated from a count of its work and picked by the
    smaller estimate:

    * direct: ufunc passes over the data, ``_DIRECT_COST`` seconds per pass and
      sample. A box kernel (all values equal) costs a constant number of passes
      (running sums); a kernel of numerical rank ``r`` costs ``r`` separable
      passes when that is cheaper than one pass per tap; symmetric 1-D factors
      fold their taps in pairs.
    * fft: ``_FFT_COST * n log2 n`` per transformed line of padded length
      ``n`` for a separable kernel (one 1-D transform per axis),
      ``_FFT2_COST * N log2 N`` per channel for a 2-D transform of ``N`` points
      otherwise, plus ``_FFT_PASS_COST`` per sample for the padding and copies.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array to filter, ``(H, W[, C])``.
    kernel : ndarray
        The kernel (1-D or 2-D for images).

    Returns
    -------
    str
        ``"direct"`` or ``"fft"``.

    Notes
    -----
    The constants are fitted on the development machine (2 cores, all threads)
    by ``PYTHONPATH=src python benchmarks/calibrate.py``, which times each
    path on a grid of shapes and prints the values to paste into this module.
    Kernels of three or more dimensions use the old per-tap estimate.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim > 2:
        taps = math.prod(k.shape)
        fshape = [next_fast_len(shape[i] + k.shape[i] - 1) for i in range(k.ndim)]
        n = math.prod(fshape)
        fft = _FFT2_COST * n * math.log2(max(n, 2)) * math.prod(shape[k.ndim:])
        return "fft" if fft < _DIRECT_COST * 2 * taps * math.prod(shape) else "direct"
    direct, fft = _plans(shape, k)
    return "fft" if _fft_seconds(fft[0]) < _direct_seconds(direct[0]) else "direct"


def convolve(array, kernel, *, mode: str = "reflect", cval: float = 0.0,
             method: str = "auto", threads: int | None = None) -> np.ndarray:
    """Convolve ``array`` with ``kernel`` over its leading axes.

    This is the mathematical convolution (the kernel is flipped), with the same
    output as ``scipy.ndimage.convolve`` for a kernel padded with ones along the
    channel axes.

    Parameters
    ----------
    array : array_like, shape (H, W[, C]) or (N,)
        Data to filter. float32 and float64 keep their type; other types are
        converted to float64.
    kernel : array_like
        1-D or N-D weights, with at most ``array.ndim`` dimensions. A kernel of
        ``k`` dimensions filters the first ``k`` axes; the remaining axes
        (colour channels) are filtered independently.
    mode : {"reflect", "mirror", "nearest", "wrap", "constant"}
        How the array is extended beyond its edges (see the module docstring).
        ``"edge"`` is accepted for ``"nearest"``.
    cval : float
        The value outside the array for ``mode="constant"``.
    method : {"auto", "direct", "fft"}
        ``"auto"`` picks by :func:`choose_method`.
    threads : int, optional
        Threads to share the work among; by default one per available core.
        The result does not depend on it.

    Returns
    -------
    ndarray
        Same shape as ``array``; float32 for float32 input, float64 otherwise.

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

    Examples
    --------
    >>> import numpy as np
    >>> convolve(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 1.0]), mode="constant")
    array([3., 5., 7., 9., 5.])
    """
    a = _as_float(array)
    k = _check_kernel(kernel, a.ndim)
    mode = normalize_mode(mode)
    method = normalize_method(method)
    nthreads = _check_threads(threads)
    cval = float(cval)
    if not math.isfinite(cval):
        msg = f"cval must be a finite number, got {cval}"
        raise UsageError(msg)
    if a.size == 0:
        return a.copy()
    if k.ndim > 2:
        if method == "auto":
            method = choose_method(a.shape, k)
        if method == "fft":
            return _convolve_fft_nd(a, k, mode, cval)
        return _convolve_direct_nd(a, k, mode, cval)
    a3, k2 = _as_3d(a, k)
    direct, fft = _plans(a.shape, k, _rank_rtol(a.dtype))
    if method == "auto":
        method = "fft" if _fft_seconds(fft[0]) < _direct_seconds(direct[0]) else "direct"
    if nthreads > 1 and a.size >= _THREAD_MIN_SAMPLES:
        with ThreadPoolExecutor(max_workers=nthreads) as pool:
            out = _run(a3, k2, mode, cval, method, direct, fft, pool)
    else:
        out = _run(a3, k2, mode, cval, method, direct, fft, None)
    return out.reshape(a.shape)


def _run(a3, k2, mode, cval, method, direct, fft, pool):
    if method == "fft":
        _, kind, factors = fft
        if kind == "separable":
            return _fft_separable(a3, factors[0], factors[1], mode, cval, pool)
        return _fft_full(a3, k2, mode, cval, pool)
    _, kind, payload = direct
    if kind == "box":
        ones = (np.ones(k2.shape[0]), np.ones(k2.shape[1]))
        return _direct_pairs(a3, [ones], mode, cval, pool, box=payload)
    if kind == "pairs":
        return _direct_pairs(a3, payload, mode, cval, pool)
    return _direct_full(a3, k2, mode, cval, pool)
