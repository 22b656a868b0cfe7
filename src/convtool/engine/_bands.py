"""Bands of rows and the threads that share them.

The 1-D and 2-D paths see the array as ``(H, W, C)``: the kernel's axes first,
every trailing axis flattened into C. With C last, a shift along W is a shift
of ``C`` elements of a row, so every tap is one ufunc call on a 2-D view whose
rows are contiguous. Work is done in bands of rows small enough that all taps
of a pass read from cache, and the bands are shared among threads (numpy ufuncs
and pocketfft release the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from convtool.errors import UsageError

# Bytes of one band buffer. Smaller bands fit in L2 but then the ~2 us cost of
# each ufunc call dominates; 1 MB bands stay in the (shared, 32 MB) L3 cache.
BAND_BYTES = 1024 * 1024
# Arrays smaller than this many samples are filtered on the calling thread.
THREAD_MIN_SAMPLES = 1 << 16


class Workers:
    """The threads a convolution may use: a pool that knows its own size.

    ``count`` is 1 (and there is no pool) for a single thread; use as a context
    manager so that the pool is shut down.
    """

    def __init__(self, count: int = 1):
        self.count = max(1, int(count))
        self._pool = ThreadPoolExecutor(max_workers=self.count) if self.count > 1 else None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def run(self, fn, ranges) -> None:
        """Run ``fn(a, b)`` for every range, on the pool when there is one."""
        if self._pool is None or len(ranges) < 2:
            for a, b in ranges:
                fn(a, b)
            return
        for future in [self._pool.submit(fn, a, b) for a, b in ranges]:
            future.result()


SERIAL = Workers(1)


def check_threads(threads) -> int:
    """The number of threads to use: ``threads``, or one per available core for None."""
    if threads is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        msg = f"threads must be a whole number >= 1 or None, got {threads!r}"
        raise UsageError(msg)
    return int(threads)


def chunks(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` (at most ``n``) contiguous ranges covering ``0..n``."""
    parts = max(1, min(parts, n))
    edges = [n * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts) if edges[i + 1] > edges[i]]


def band_rows(h: int, row_elems: int, itemsize: int) -> int:
    """Rows of ``row_elems`` samples that fit in one band buffer."""
    return max(1, min(h, BAND_BYTES // max(1, row_elems * itemsize)))


def pieces(workers: Workers, h: int, band: int) -> int:
    """How many runs of bands to share among the threads.

    A few per thread balance the load; but no more than there are bands, since
    every piece pays each pass's ufunc-call overhead again.
    """
    n = workers.count
    return max(n, min(4 * n, -(-h // band)))


def padded_rows(flat: np.ndarray, idx: np.ndarray, before: int, start: int, stop: int,
                cval: float, buf: np.ndarray) -> np.ndarray:
    """Padded rows ``start:stop`` of ``flat``: a view inside the array, else gathered."""
    if start >= before and stop <= before + flat.shape[0]:
        return flat[start - before:stop - before]
    out = buf[:stop - start]
    # Rows inside the array in one plain copy (several times faster than take),
    # the padding rows by their indices.
    lo, hi = max(start, before), min(stop, before + flat.shape[0])
    if hi > lo:
        out[lo - start:hi - start] = flat[lo - before:hi - before]
        outside = ((start, lo), (hi, stop))
    else:  # the band is all padding (a kernel taller than the image)
        outside = ((start, stop),)
    for a, b in outside:
        if b > a:
            sel = idx[a:b]
            np.take(flat, np.maximum(sel, 0), axis=0, out=out[a - start:b - start])
            out[a - start:b - start][sel < 0] = cval
    return out


def border_plan(idx: np.ndarray, before: int, n: int):
    """How to fill each padding side of a band: ``(side, source)`` pairs for :func:`fill_border`.

    ``source`` is None for a side outside the array (index -1: the constant), else
    the columns of the band to copy: a slice when the indices run by steps of -1,
    0 or +1 (reflect, mirror, nearest and wrap, unless the kernel is wider than
    the axis), which numpy copies several times faster than an index array.
    """
    plan = []
    for part in (slice(0, before), slice(before + n, idx.size)):
        sel = idx[part]
        if sel.size == 0:
            continue
        if sel[0] < 0:  # a whole side is outside
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


def fill_border(band: np.ndarray, plan, value: float) -> None:
    """Fill the padding columns of ``band`` (r, n + pad, C) from its middle columns."""
    for part, src in plan:
        if src is None:
            band[:, part] = value
        else:
            band[:, part] = band[:, src]
