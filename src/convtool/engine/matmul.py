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
#: A row pass too long for :func:`row_pass` turns the band twice (:func:`turned_row_pass`):
#: that pays from 9 taps (a band of 21 rows of 4000 RGB pixels: 7 taps 0.62 ms against
#: 0.57 ms tap by tap, 9 taps 0.65 against 0.73).
ROW_MIN_TAPS = 9
#: :func:`row_pass` by channels per pixel: pixels per block (so that a block's outputs are
#: about 16 floats, the width OpenBLAS's float kernels work in) and the most taps it is
#: used for. Each output costs ``channels * (block + taps - 1)`` multiply-adds, mostly by
#: zero, so longer kernels go the turned way. Per row of a 1 MB band of a 4000-pixel
#: image (``benchmarks/README.md``), one thread: RGB 17 taps 19.5 us against 22.4 turned,
#: 25 taps 27.4 against 25.0; RGB 5 taps 8.9 us against 19.9 tap by tap.
ROW_BLOCKS = {1: (16, 48), 2: (8, 32), 3: (5, 17), 4: (8, 21)}
#: Products are this many columns wide, or a whole number of times as many (narrower
#: arrays are padded with zero columns): OpenBLAS sums the columns of a product's last
#: partial tile in another order than the others, so the same row turned on its side
#: came out a bit different (1.8e-7 in float32) in a band of 59 rows and in one of 61.
NARROW = 64
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


def finite(array: np.ndarray) -> bool:
    """True when ``array`` holds no inf or NaN, so that its passes may run as matrix products.

    A product would spread such a value over whole blocks. The check is one
    summing pass; a sum that overflows only sends a finite array the slower way.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(array, axis=None)))


def usable(array: np.ndarray, taps: int) -> bool:
    """True when a column pass of ``taps`` taps over ``array`` may run as matrix products.

    Not for short kernels (shifted multiply-adds are as fast), nor for arrays
    that are not :func:`finite`.
    """
    return taps >= MIN_TAPS and finite(array)


def row_kind(taps: int, channels: int) -> str | None:
    """How a row pass of ``taps`` taps runs as products: ``"blocks"`` (:func:`row_pass`),
    ``"turned"`` (:func:`turned_row_pass`), or None (tap by tap)."""
    block = ROW_BLOCKS.get(channels)
    if block is not None and 2 <= taps <= block[1]:
        return "blocks"
    return "turned" if taps >= ROW_MIN_TAPS else None


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
    if n < NARROW:  # on copies padded with zero columns (see NARROW)
        wide = np.zeros((src.shape[0], NARROW), dtype=src.dtype)
        wide[:, :n] = src
        result = np.empty((rows, NARROW), dtype=out.dtype)
        _blocks(t, wide, result)
        out[...] = result[:, :n]
        return
    rs, cs = src.strides
    # Whole NARROW pieces, so that BLAS sums every column alike whatever the width.
    width = max(NARROW, min(n, WINDOW // height) // NARROW * NARROW)
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


@lru_cache(maxsize=64)
def _row_matrix(taps: tuple[float, ...], channels: int, dtype: str) -> np.ndarray:
    """``M`` with ``window @ M`` the outputs of one block of pixels (see :func:`row_pass`)."""
    block, k = ROW_BLOCKS[channels][0], len(taps)
    m = np.zeros(((block + k - 1) * channels, block * channels), dtype=dtype)
    for j in range(block):
        for i, tap in enumerate(taps):
            for c in range(channels):
                m[(j + i) * channels + c, j * channels + c] = tap
    m.flags.writeable = False
    return m


def row_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray, channels: int) -> None:
    """``out[:, x] = sum_m f[m] * src[:, x + m]``, ``x`` counting pixels of ``channels`` samples.

    For ``row_kind(f.size, channels) == "blocks"``. The outputs of a block of
    ``b`` pixels (:data:`ROW_BLOCKS`) are the block's window of source samples
    (``b + K - 1`` pixels) times a fixed matrix ``M`` holding each tap once per
    output; the windows of all blocks are one strided view, and every row of
    the band goes through the same products, so the pixels' samples stay as
    they are, interleaved. The last pixels are one more block, overlapping the
    one before (an image narrower than a block: a copy padded with zeros), so
    that every pixel is summed alike wherever it falls. ``src`` is
    ``(r, (w + K - 1) * channels)``, ``out`` ``(r, w * channels)``, both with
    contiguous rows.
    """
    block, k = ROW_BLOCKS[channels][0], f.size
    m = _row_matrix(tuple(float(v) for v in f), channels, src.dtype.str)
    r, width = out.shape[0], out.shape[1] // channels
    span, step = (block + k - 1) * channels, block * channels
    if width < block:
        padded = np.zeros((max(r, 2), span), dtype=src.dtype)
        padded[:, :src.shape[1]] = src
        out[...] = (padded @ m)[:r, :out.shape[1]]
        return
    if r == 1:  # numpy would take one row times a matrix to BLAS's gemv, which sums otherwise
        last = np.empty((2, out.shape[1]), dtype=out.dtype)
        row_pass(np.concatenate([src, src]), f, last, channels)
        out[...] = last[:1]
        return
    blocks = width // block
    (rs, cs), (os_, oc) = src.strides, out.strides
    # Rows in pieces whose windows stay in cache, so that each product runs on the calling
    # thread; all of one size, the last overlapping the one before.
    rows = min(r, max(2, WINDOW // span))
    for a in sorted({*range(0, r - rows, rows), r - rows}):
        b = a + rows
        windows = as_strided(src[a:b], (blocks, rows, span), (step * cs, rs, cs),
                             writeable=False)
        target = as_strided(out[a:b], (blocks, rows, step), (step * oc, os_, oc))
        np.matmul(windows, m, out=target)
        if blocks * block < width:
            last = (width - block) * channels
            np.matmul(src[a:b, last:last + span], m, out=out[a:b, last:last + step])


def turned_width(samples: int) -> int:
    """Columns of a band turned on its side: ``samples`` (a pixel's column of the band)
    rounded up to whole :data:`NARROW` pieces."""
    return -(-samples // NARROW) * NARROW


def turned_row_pass(src: np.ndarray, f: np.ndarray, out: np.ndarray, channels: int,
                    buffers: tuple[np.ndarray, np.ndarray]) -> None:
    """``out[:, x] = sum_m f[m] * src[:, x + m]``, ``x`` counting pixels of ``channels`` samples.

    The band is turned on its side (a row per pixel, holding each channel's
    samples of that column of the band one after another: numpy copies that
    layout twice as fast as keeping a pixel's samples together), filtered by
    :func:`column_pass` (whose columns are independent, so their order does
    not matter) and turned back. The turned rows are :func:`turned_width`
    long (zeros after the samples), so that the products have the same widths
    whatever the band's height, and a row comes out the same in any band.
    ``src`` is ``(r, (w + K - 1) * channels)``, ``out`` ``(r, w * channels)``,
    both with contiguous rows; ``buffers`` are two flat arrays of at least
    ``(w + K - 1) * turned_width(r * channels)`` elements (new ones are made
    when they are shorter).
    """
    k = f.size
    r, width = out.shape[0], out.shape[1] // channels
    wide, samples = width + k - 1, r * channels
    across = turned_width(samples)
    if min(b.size for b in buffers) < wide * across:
        buffers = tuple(np.empty(wide * across, out.dtype) for _ in range(2))
    side = buffers[0][:wide * across].reshape(wide, across)
    side[:, samples:] = 0
    np.copyto(side[:, :samples].reshape(wide, channels, r),
              src[:, :wide * channels].reshape(r, wide, channels).transpose(1, 2, 0))
    done = buffers[1][:width * across].reshape(width, across)
    column_pass(side, f, done)
    np.copyto(out.reshape(r, width, channels),
              done[:, :samples].reshape(width, channels, r).transpose(2, 0, 1))
