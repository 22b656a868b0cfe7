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

Each output is still the sum of the same ``K`` products in the array's
precision (BLAS may fuse and order the additions its own way, so results
differ from tap by tap by float rounding, ~1e-7 relative); the zeros of ``T``
add nothing, except where a source value is infinite or NaN (``0 * inf`` is
NaN, and the block's other rows would catch it). So arrays with such values go
tap by tap (:func:`usable`). Every block and every piece of columns is a
product of the same shape, so BLAS treats every output alike and shifting an
image shifts its result exactly (``tests/test_engine_matmul.py`` and the
hypothesis properties check this on the installed BLAS).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

#: Output rows per block: small blocks waste few multiplications by zero.
BLOCK = 4
#: Fewer taps than this are as cheap as shifted multiply-adds (4 taps: 0.095 s against
#: 0.110 s for a 4000x3000 RGB float32 image; 5 taps: 0.103 s against 0.095 s).
MIN_TAPS = 5
#: The row pass also turns the band twice: it pays from 9 taps (a band of 21 rows of
#: 4000 RGB pixels: 7 taps 0.62 ms against 0.57 ms tap by tap, 9 taps 0.65 against 0.73).
ROW_MIN_TAPS = 9
#: Samples in one product's window of source rows (see :func:`_blocks`): 64 KB of
#: float32, which stays in cache, and which OpenBLAS multiplies on the calling thread
#: (it wakes its own threads above 4 * 65536 multiply-adds). Interleaved runs on 12 MP
#: (noisy machine): 16384 was as fast as or faster than 1024 columns, 32768 or 65536
#: samples for Gaussians of sigma 1, 2, 5 and a 5x5 kernel.
WINDOW = 16384


@lru_cache(maxsize=64)
def _toeplitz(taps: tuple[float, ...], dtype: str) -> np.ndarray:
    k = len(taps)
    t = np.zeros((BLOCK, BLOCK + k - 1), dtype=dtype)
    for i in range(BLOCK):
        t[i, i:i + k] = taps
    t.flags.writeable = False
    return t


def usable(array: np.ndarray, taps: int) -> bool:
    """True when a pass of ``taps`` taps over ``array`` may run as matrix products.

    Not for short kernels (shifted multiply-adds are as fast), nor for arrays
    holding inf or NaN (a product would spread them over whole blocks); the
    check is one summing pass, and a sum that overflows only sends a finite
    array the slower way.
    """
    if taps < MIN_TAPS:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(array, axis=None)))


def _blocks(t: np.ndarray, src: np.ndarray, out: np.ndarray) -> None:
    """``out`` (whole blocks of rows) = ``t`` times each block's window of ``src``.

    Columns go in pieces of ``WINDOW // (BLOCK + K - 1)`` (the last one
    overlapping the one before, so that every piece is as wide), each piece
    its own small product: a block's window of a piece stays in cache, and
    BLAS runs each product on the calling thread instead of waking threads of
    its own (convtool's bands already use every core; on 2 cores a 41-tap
    pass took 0.6 ms a band the one way, 0.4 ms the other). Wider pieces for
    short kernels keep the number of products, each with its call cost, down.
    """
    rows, n = out.shape
    blocks, height = rows // BLOCK, t.shape[1]
    rs, cs = src.strides
    width = min(n, max(64, WINDOW // height))
    pieces = n // width
    windows = as_strided(src, (blocks, pieces, height, width),
                         (BLOCK * rs, width * cs, rs, cs), writeable=False)
    target = out[:, :pieces * width].reshape(blocks, BLOCK, pieces, width)
    np.matmul(t, windows, out=target.transpose(0, 2, 1, 3))
    if pieces * width < n:  # the last columns as one more piece, overlapping the one before
        windows = as_strided(src[:, n - width:], (blocks, height, width),
                             (BLOCK * rs, rs, cs), writeable=False)
        np.matmul(t, windows, out=out[:, n - width:].reshape(blocks, BLOCK, width))


def column_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_m f[m] * src[i + m]`` for every row ``i`` of ``out``.

    ``src`` has ``out.shape[0] + f.size - 1`` rows; both are 2-D with
    contiguous rows (any row stride), and :func:`usable` said yes. The rows
    after the last whole block are one more block, overlapping the one before
    (in a band of fewer rows than a block: a copy padded with zero rows), so
    that every row is summed alike wherever it falls (shifting the image
    shifts the result exactly).
    """
    r, k = out.shape[0], f.size
    t = _toeplitz(tuple(float(v) for v in f), src.dtype.str)
    done = r // BLOCK * BLOCK
    if done:
        _blocks(t, src, out[:done])
    if done < r and done:  # the last rows as one more block, overlapping the one before
        _blocks(t, src[r - BLOCK:], out[r - BLOCK:])
    elif done < r:  # fewer rows than a block: on a copy padded with zero rows
        rest = np.zeros((BLOCK + k - 1, src.shape[1]), dtype=src.dtype)
        rest[:r + k - 1] = src
        last = np.empty((BLOCK, out.shape[1]), dtype=out.dtype)
        _blocks(t, rest, last)
        out[...] = last[:r]


def row_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray, channels: int,
             buffers: tuple[np.ndarray, np.ndarray]) -> None:
    """``out[:, x] = sum_m f[m] * src[:, x + m]``, ``x`` counting pixels of ``channels`` samples.

    The band is turned on its side (a row per pixel, holding each channel's
    samples of that column of the band one after another: numpy copies that
    layout twice as fast as keeping a pixel's samples together), filtered by
    :func:`column_pass` (whose columns are independent, so their order does
    not matter) and turned back. ``src`` is ``(r, (w + K - 1) * channels)``,
    ``out`` ``(r, w * channels)``, both with contiguous rows; ``buffers`` are
    two flat arrays of at least ``(w + K - 1) * r * channels`` elements.
    """
    k = f.size
    r, width = out.shape[0], out.shape[1] // channels
    wide = width + k - 1
    side = buffers[0][:wide * r * channels].reshape(wide, channels, r)
    np.copyto(side, src[:, :wide * channels].reshape(r, wide, channels).transpose(1, 2, 0))
    done = buffers[1][:width * r * channels].reshape(width, channels, r)
    column_pass(side.reshape(wide, channels * r), f, done.reshape(width, channels * r))
    np.copyto(out.reshape(r, width, channels), done.transpose(2, 0, 1))
