"""Out-of-core planning: the tile grid, each tile's padded window, and the memory model.

An output tile ``rows r0:r1, cols c0:c1`` of a kernel ``(KH, KW)`` depends on
the input rows ``r0 - (KH - 1) // 2 .. r1 - 1 + KH // 2`` and the same around
the columns: the *window*. Where the window leaves the image, its rows and
columns are found by the boundary mode's index rule (the "gather" strategy),
so a kernel larger than a tile, or than the whole image, needs nothing else.

Memory model: a tile of ``h x w`` output pixels with ``C`` channels holds its
window as float32 several times over (the samples read, the filter-space copy,
the engine's result, a gradient's second result): :data:`FLOATS_PER_SAMPLE`
float32 values per window sample, plus the band of output rows kept until the
tiled writer can take them. :func:`plan_tiles` picks the largest tiles whose
total stays under the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convtool.engine.modes import get_mode
from convtool.errors import UsageError

#: float32 copies of a window counted while a tile is filtered: the samples read, the
#: filter-space copy, the engine's result and its buffers, the output space. A
#: conservative figure: benchmarks/bench_outofcore.py measured about 3 (10000x10000 RGB,
#: --memory 1GB: 1040x10000 windows, 0.55 GB peak of which ~0.2 GB is the interpreter).
FLOATS_PER_SAMPLE = 6
#: float32 copies of the whole image filtering in memory takes (pipeline.process_file):
#: measured 2.0 (direct) and 2.2 (FFT) at 10000x10000 RGB, rounded up.
IN_MEMORY_FLOATS = 3
#: Bytes a sample filtering an 8-bit image in memory takes when the pipeline runs it a band
#: of rows at a time (pipeline/bands.py): the 8-bit image read, the 8-bit result and the
#: encoder's copy. Measured 2.2-2.4 (peak RSS less 0.1 GB of interpreter, 10000x10000 and
#: 20000x20000 RGB, sigma 2 and 20: benchmarks/README.md), rounded up.
BANDED_BYTES = 3
#: Extra copies for a gradient pair (two convolutions and their magnitude).
GRADIENT_FLOATS = 3
#: Output tiles are whole multiples of the TIFF tile edge, so bands feed the writer directly.
TIFF_TILE = 256
#: Smallest output tile edge the planner picks on its own: below it Dask's
#: per-task cost (about a millisecond) outweighs the work of a tile.
MIN_TILE = 256


def axis_index(n: int, start: int, stop: int, mode: str) -> np.ndarray:
    """Index into an axis of length ``n`` of the positions ``start .. stop - 1``.

    Positions outside ``0 .. n - 1`` follow the boundary mode's rule from
    :mod:`convtool.engine.modes`, as :func:`convtool.engine.convolve` extends an
    axis (any distance, so kernels wider than the axis work); ``-1`` marks a
    position outside in ``constant`` mode.

    Examples
    --------
    >>> axis_index(4, -3, 7, "reflect").tolist()
    [2, 1, 0, 0, 1, 2, 3, 3, 2, 1]
    >>> axis_index(4, -3, 7, "mirror").tolist()
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    >>> axis_index(4, -2, 6, "constant").tolist()
    [-1, -1, 0, 1, 2, 3, -1, -1]
    """
    positions = np.arange(start, stop, dtype=np.intp)
    return get_mode(mode).rule(positions, n).astype(np.intp, copy=False)


@dataclass(frozen=True)
class Tile:
    """One output tile and the input window it needs.

    ``rows``/``cols`` are the output's slices; ``row_index``/``col_index`` index
    the input for every window position (see :func:`axis_index`); ``crop``
    cuts the tile back out of the filtered window.
    """

    rows: slice
    cols: slice
    row_index: np.ndarray
    col_index: np.ndarray
    crop: tuple[slice, slice]


@dataclass(frozen=True)
class TilePlan:
    """How an image of ``shape`` is cut for a kernel of ``kernel_shape``.

    Attributes
    ----------
    shape : (H, W, C)
    kernel_shape : (KH, KW)
    tile_shape : (TH, TW)
        Output tile size (the last row and column of tiles may be smaller).
    """

    shape: tuple[int, int, int]
    kernel_shape: tuple[int, int]
    tile_shape: tuple[int, int]

    @property
    def halo(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Rows and columns each window adds ``(before, after)`` the tile: the kernel's reach."""
        kh, kw = self.kernel_shape
        return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)

    @property
    def grid(self) -> tuple[int, int]:
        """Tiles down and across."""
        return (-(-self.shape[0] // self.tile_shape[0]), -(-self.shape[1] // self.tile_shape[1]))

    def row_bands(self) -> list[slice]:
        """The output's bands of rows, one per row of tiles."""
        h, th = self.shape[0], self.tile_shape[0]
        return [slice(r, min(r + th, h)) for r in range(0, h, th)]

    def col_spans(self) -> list[slice]:
        w, tw = self.shape[1], self.tile_shape[1]
        return [slice(c, min(c + tw, w)) for c in range(0, w, tw)]

    def tile_at(self, rows: slice, cols: slice, mode: str) -> Tile:
        """The window of the output tile ``rows, cols``.

        In ``constant`` mode the window stops at the image's edges and the
        engine adds the constant itself, as it does for the whole image (a
        separable filter's second pass sees a filtered constant, which only the
        engine's own padding reproduces to the last bit). Every other mode
        gathers the window through its index rule.
        """
        (rb, ra), (cb, ca) = self.halo
        h, w = self.shape[:2]
        if mode == "constant":
            r0, r1 = max(rows.start - rb, 0), min(rows.stop + ra, h)
            c0, c1 = max(cols.start - cb, 0), min(cols.stop + ca, w)
        else:
            r0, r1 = rows.start - rb, rows.stop + ra
            c0, c1 = cols.start - cb, cols.stop + ca
        ridx = axis_index(h, r0, r1, "nearest" if mode == "constant" else mode)
        cidx = axis_index(w, c0, c1, "nearest" if mode == "constant" else mode)
        crop = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
        return Tile(rows, cols, ridx, cidx, crop)

    def window_bytes(self) -> int:
        """float32 bytes of the largest window."""
        (rb, ra), (cb, ca) = self.halo
        th, tw = self.tile_shape
        return 4 * (th + rb + ra) * (tw + cb + ca) * self.shape[2]


def parse_size(text) -> int:
    """Bytes in a size such as ``"2GB"``, ``"512MiB"``, ``"1.5G"`` or ``"800000000"``.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("512MiB"), parse_size("1.5k")
    (2000000000, 536870912, 1500)
    """
    units = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
             "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
             "tib": 2**40}
    s = str(text).strip().lower().replace(" ", "")
    number = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(number):]
    try:
        value = float(number) * units[unit]
    except (KeyError, ValueError):
        value = -1.0
    if not math.isfinite(value) or value < 1:
        msg = (f"--memory {text!r}: not a size; write a number of bytes with an optional unit, "
               "e.g. 2GB, 512MB or 1.5GiB")
        raise UsageError(msg)
    return int(value)


def plan_tiles(shape, kernel_shape, *, budget: int, tile: int | None = None,
               floats: int = FLOATS_PER_SAMPLE, itemsize: int = 1) -> TilePlan:
    """Cut an image of ``shape`` (H, W, C) into tiles for ``kernel_shape`` within ``budget`` bytes.

    With ``tile`` the tiles are ``tile x tile`` (clipped to the image). Otherwise
    the widest tiles are taken first (whole rows when they fit: a wide tile
    pays the halo on two sides only), then as many rows as the budget allows,
    in multiples of :data:`TIFF_TILE`; each window costs ``floats`` float32
    values per sample, and a band of output rows costs ``itemsize`` bytes per
    sample. Raises :class:`UsageError` when not even the smallest tile fits.
    """
    h, w, c = (int(v) for v in shape)
    kh, kw = (int(v) for v in kernel_shape)
    if tile is not None:
        if tile < 1:
            msg = f"--tiles must be a whole number of pixels >= 1, got {tile}"
            raise UsageError(msg)
        return TilePlan((h, w, c), (kh, kw), (min(tile, h), min(tile, w)))

    def cost(th: int, tw: int) -> int:
        window = (th + kh - 1) * (tw + kw - 1) * c * 4 * floats
        return window + th * w * c * itemsize

    tw = w
    while tw > MIN_TILE and cost(min(MIN_TILE, h), tw) > budget:
        tw = max(MIN_TILE, _round_tile(tw // 2))
    th = min(MIN_TILE, h)
    while th < h and cost(min(2 * th, h), tw) <= budget:
        th = min(2 * th, h)
    if cost(th, tw) > budget:
        need = cost(th, tw)
        msg = (f"--memory {budget:,} bytes is too small for this image and kernel: the smallest "
               f"tile ({th}x{tw} with a {kh}x{kw} kernel) needs {need:,}; allow more memory")
        raise UsageError(msg)
    return TilePlan((h, w, c), (kh, kw), (th, tw))


def _round_tile(n: int) -> int:
    return max(TIFF_TILE, n // TIFF_TILE * TIFF_TILE)
