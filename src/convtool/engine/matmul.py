"""A column pass (a 1-D kernel down the rows of a band) as one batched matrix product.

``out[i] = sum_m f[m] * src[i + m]`` for the rows ``i`` of a band is, for
every block of ``BLOCK`` output rows, a small Toeplitz matrix ``T`` (``BLOCK``
by ``BLOCK + K - 1``, ``T[i, i + m] = f[m]``) times the block's window of
source rows. The windows of all blocks are one strided view of the source (they
overlap), so a single ``np.matmul`` call runs every block through BLAS. numpy's
shifted multiply-adds (:func:`convtool.engine.direct.fir`) make ~3 passes over
the band per pair of taps; the matrix product reads each source row a few
times from cache: a 17-tap column pass over a 4000x3000 RGB float32 image took
0.22 s one way and 0.03 s the other (``benchmarks/README.md``).

Each output is still the sum of the same ``K`` products, in tap order, in the
array's precision; the zeros of ``T`` add nothing, except where a source value
is infinite or NaN (``0 * inf`` is NaN, and the block's other rows would catch
it). So a block product with any non-finite output is redone tap by tap.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

#: Output rows per block: small blocks waste few multiplications by zero.
BLOCK = 4
#: Fewer taps than this are cheaper as shifted multiply-adds.
MIN_TAPS = 4


@lru_cache(maxsize=64)
def _toeplitz(taps: tuple[float, ...], dtype: str) -> np.ndarray:
    k = len(taps)
    t = np.zeros((BLOCK, BLOCK + k - 1), dtype=dtype)
    for i in range(BLOCK):
        t[i, i:i + k] = taps
    t.flags.writeable = False
    return t


def column_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray, by_taps) -> None:
    """``out[i] = sum_m f[m] * src[i + m]`` for every row ``i`` of ``out``.

    ``src`` has ``out.shape[0] + f.size - 1`` rows; both are 2-D with
    contiguous rows (any row stride). ``by_taps(start, stop)`` computes rows
    ``start:stop`` of ``out`` tap by tap: all of them for short kernels, and
    any block product that came out non-finite. The rows after the last whole
    block are one more block, overlapping the one before (in a band of fewer
    rows than a block: a copy padded with zero rows), so that every row is
    summed alike wherever it falls (shifting the image shifts the result
    exactly).
    """
    r, k = out.shape[0], f.size
    if k < MIN_TAPS:
        by_taps(0, r)
        return
    t = _toeplitz(tuple(float(v) for v in f), src.dtype.str)
    blocks, done = r // BLOCK, r // BLOCK * BLOCK
    if blocks:
        rs, cs = src.strides
        windows = as_strided(src, (blocks, BLOCK + k - 1, src.shape[1]),
                             (BLOCK * rs, rs, cs), writeable=False)
        target = out[:done].reshape(blocks, BLOCK, out.shape[1])
        with np.errstate(invalid="ignore", over="ignore"):  # redone tap by tap below
            np.matmul(t, windows, out=target)
        if not np.isfinite(np.add.reduce(target, axis=None)):
            by_taps(0, done)  # inf or NaN in the source: only its own window may see it
    if done < r and blocks:  # the last rows as one more block, overlapping the one before
        with np.errstate(invalid="ignore", over="ignore"):
            np.matmul(t, src[r - BLOCK:r + k - 1], out=out[r - BLOCK:r])
        if not np.isfinite(np.add.reduce(out[r - BLOCK:r], axis=None)):
            by_taps(r - BLOCK, r)
    elif done < r:  # fewer rows than a block: on a copy padded with zero rows
        rest = np.zeros((BLOCK + k - 1, src.shape[1]), dtype=src.dtype)
        rest[:r + k - 1] = src
        with np.errstate(invalid="ignore", over="ignore"):
            last = np.matmul(t, rest)[:r]
        if np.isfinite(np.add.reduce(last, axis=None)):
            out[...] = last
        else:
            by_taps(0, r)


def row_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray, channels: int, by_taps,
             buffers: tuple[np.ndarray, np.ndarray]) -> None:
    """``out[:, x] = sum_m f[m] * src[:, x + m]``, ``x`` counting pixels of ``channels`` samples.

    The band is turned on its side (pixels as rows; a pixel's samples move as
    one item, which numpy copies twice as fast as single samples), filtered by
    :func:`column_pass` and turned back. ``src`` is ``(r, (w + K - 1) *
    channels)``, ``out`` ``(r, w * channels)``, both with contiguous rows;
    ``buffers`` are two flat arrays of at least ``(w + K - 1) * r * channels``
    elements. ``by_taps()`` computes all of ``out`` tap by tap instead: for
    short kernels, and when a product came out non-finite.
    """
    k = f.size
    if k < MIN_TAPS:
        by_taps()
        return
    r, width = out.shape[0], out.shape[1] // channels
    item = np.dtype((np.void, channels * src.itemsize))
    side = buffers[0][:(width + k - 1) * r * channels].reshape(width + k - 1, r * channels)
    side.view(item)[...] = src[:, :(width + k - 1) * channels].view(item).T
    done = buffers[1][:width * r * channels].reshape(width, r * channels)
    failed = []
    column_pass(side, f, done, lambda i0, i1: failed.append((i0, i1)))
    if failed:
        by_taps()
        return
    out.view(item)[...] = done.view(item).T
