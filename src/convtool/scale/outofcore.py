"""Filtering an image larger than memory: exactly the in-memory result, a tile at a time.

Two strategies, chosen so every output sample is computed by the same
arithmetic, in the same order, as :func:`convtool.pipeline.apply_job` on the whole
image (0 differing samples, not "close"):

* **Tiles** (direct method; FFT with a non-separable kernel): each output tile
  reads its padded window (the tile plus the kernel's reach, gathered through
  the boundary mode's index rule, see :mod:`convtool.scale.tiles`), filters it
  and keeps the middle. The direct engine computes each sample from its
  neighbours only, so the window's result is the image's.
* **Strips** (FFT with a separable kernel): an FFT's rounding depends on the
  transform length, so a window's FFT is not the image's. The engine's
  separable FFT filters whole columns, then whole rows; so does this path:
  full-height strips of columns first (kept in a temporary float32 file), then
  full-width bands of rows.

Tiles are a :mod:`dask.array` computed a band of rows at a time (on the
threaded scheduler, or on a cluster's client), and bands go to a
:class:`~convtool.scale.tiled_write.TiledTiffWriter` as they complete.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np

from convtool import engine, imaging
from convtool.errors import UsageError
from convtool.scale.lazy_read import RegionReader
from convtool.scale.tiles import FLOATS_PER_SAMPLE, GRADIENT_FLOATS, Tile, TilePlan, plan_tiles

_OUTPUT_DTYPES = {"L": np.uint8, "LA": np.uint8, "RGB": np.uint8, "RGBA": np.uint8,
                  "CMYK": np.uint8, "I;16": np.uint16}


@dataclass(frozen=True)
class TiledRun:
    """What :func:`filter_tiled` did: the image shape, method, strategy, tiles and time."""

    shape: tuple[int, int, int]
    method: str
    strategy: str
    tile: tuple[int, int]
    tiles: int
    seconds: float


def _kernels(job) -> list[np.ndarray]:
    return [job.kernel.array] + ([job.kernel_y.array] if job.kernel_y is not None else [])


def _floats(job) -> int:
    return FLOATS_PER_SAMPLE + (GRADIENT_FLOATS if job.kernel_y is not None else 0)


def _separable_fft(shape, kernel: np.ndarray):
    """``(column, row)`` the engine's FFT would use for ``kernel`` on float32 ``shape``, or None.

    Asks the engine's own planner, so the strips run exactly the passes the
    whole image would.
    """
    kind, factors = engine.plan(shape, kernel, dtype=np.float32, method="fft").fft
    return factors if kind == "separable" else None


def _respond(job, sub, crop, convolve, peak):
    """The filter's response on the tile ``crop`` of ``sub``, as ``pipeline.job._respond``.

    ``convolve(sub, kernel)`` returns the convolution cropped to the tile. With
    ``peak`` None and ``job.stretch`` this returns the tile's peak instead.
    """
    out = convolve(sub, job.kernel.array)
    if job.kernel_y is not None:
        out = np.hypot(out, convolve(sub, job.kernel_y.array))
    if job.absolute:
        out = np.abs(out)
    if job.stretch:
        if peak is None:
            return float(np.abs(out).max(initial=0.0))
        if peak > 0:
            out = out / np.asarray(peak, dtype=out.dtype)
    if job.threshold > 0:
        pixels = sub[crop]
        out = np.where(np.abs(out - pixels) < job.threshold, pixels, out)
    bias = job.bias + job.kernel.offset
    if bias:
        out = out + np.asarray(bias, dtype=out.dtype)
    return out


def _filtered(job, image: imaging.Image, crop, convolve, peak):
    """:func:`convtool.pipeline.apply_job` on the part ``crop`` of ``image`` (a window)."""
    from convtool.pipeline import channel_indices

    chosen = channel_indices(image.mode, job.channels, image.pixels.shape[-1])
    subset = len(chosen) < image.pixels.shape[-1]
    alpha = "separate" if subset else job.alpha
    work = imaging.filter_space(image, alpha=alpha, linear=job.linear)
    sub = work[..., chosen] if subset else work
    out = _respond(job, sub, crop, convolve, peak)
    if peak is None and job.stretch:
        return out
    if subset:
        full = np.array(work[crop])
        full[..., chosen] = out
        out = full
    cropped = replace(image, pixels=image.pixels[crop])
    return imaging.image_space(out, cropped, alpha=alpha, linear=job.linear)


def _to_output(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Round to the output's integers as :func:`convtool.imaging.to_pil` does."""
    dtype = np.dtype(_OUTPUT_DTYPES[mode])
    chunk = np.clip(pixels, 0.0, 1.0)
    chunk *= float(np.iinfo(dtype).max)
    np.rint(chunk, out=chunk)
    return chunk.astype(dtype)


def _tile_result(job, reader: RegionReader, tile: Tile, method: str, peak, threads):
    """One output tile (integers), or its peak in a stretch's first pass."""
    window = reader.gather(tile.row_index, tile.col_index)
    image = imaging.Image(pixels=window, mode=reader.mode)

    def convolve(sub, kernel):
        out = engine.convolve(sub, kernel, mode=job.mode, cval=job.cval, method=method,
                              threads=threads)
        return out[tile.crop]

    out = _filtered(job, image, tile.crop, convolve, peak)
    if peak is None and job.stretch:
        return np.full((1, 1, 1), out)
    return _to_output(out, reader.mode)


def _tile_array(job, reader, plan: TilePlan, method, peak, threads):
    """The output as a lazy :mod:`dask.array`, one task per tile."""
    import dask.array as da

    c = plan.shape[2]
    first = peak is None and job.stretch
    rows = tuple(s.stop - s.start for s in plan.row_bands())
    cols = tuple(s.stop - s.start for s in plan.col_spans())
    chunks = ((1,) * len(rows), (1,) * len(cols), (1,)) if first else (rows, cols, (c,))

    def block(block_info=None):
        i, j = block_info[None]["chunk-location"][:2]
        tile = plan.tile_at(plan.row_bands()[i], plan.col_spans()[j], job.mode)
        return _tile_result(job, reader, tile, method, peak, threads)

    dtype = np.float64 if first else _OUTPUT_DTYPES[reader.mode]
    return da.map_blocks(block, chunks=chunks, dtype=dtype, meta=np.empty((0, 0, 0), dtype))


def _check_mode(reader: RegionReader) -> None:
    if reader.mode not in _OUTPUT_DTYPES:
        msg = (f"tiled filtering takes 8-bit and 16-bit greyscale images, not mode {reader.mode}; "
               "leave out --tiles and --memory to filter it in memory")
        raise UsageError(msg)


def choose_strategy(job, shape, method: str) -> str:
    """How to cut the work so that it runs the in-memory arithmetic.

    ``"tiles"`` for the direct method, ``"strips"`` when the FFT would run
    separably on the whole image, ``"spectrum"`` for a 2-D FFT.
    """
    if method != "fft":
        return "tiles"
    if all(_separable_fft(shape, k) is not None for k in _kernels(job)):
        return "strips"
    return "spectrum"


def filter_tiled(job, reader: RegionReader, sink, *, budget: int, tile: int | None = None,
                 client=None, progress=None) -> TiledRun:
    """Filter the image ``reader`` gives with ``job`` into ``sink``, within ``budget`` bytes.

    Parameters
    ----------
    job : FilterJob
    reader : RegionReader
    sink : object with ``write_band(rows)``
        Receives the output's bands of rows, in order, as integers.
    budget : int
        Bytes the windows and buffers may take (see :mod:`convtool.scale.tiles`).
    tile : int, optional
        Force ``tile x tile`` tiles (strips ``tile`` wide and high).
    client : dask.distributed.Client, optional
        Run the tiles on this cluster; by default they run in this process.
    progress : callable, optional
        Called with ``(done, total)`` bands.

    Returns
    -------
    TiledRun
    """
    start = time.perf_counter()
    _check_mode(reader)
    if job.mode == "constant" and not 0.0 <= job.cval <= 1.0:
        msg = (f"--cval {job.cval:g} is not between 0 and 1: for {reader.mode} images cval is on "
               "the 0..1 scale (0 is black, 1 is white, whatever the bit depth)")
        raise UsageError(msg)
    shape = reader.shape
    method = job.method_for(shape)
    strategy = choose_strategy(job, shape, method)
    if strategy != "tiles":
        if strategy == "strips":
            from convtool.scale.strips import filter_strips

            done = filter_strips(job, reader, sink, budget=budget, tile=tile, progress=progress)
        else:
            from convtool.scale.spectrum import filter_spectrum

            done = filter_spectrum(job, reader, sink, budget=budget, progress=progress)
        return TiledRun(shape, method, strategy, done[0], done[1], time.perf_counter() - start)
    kshape = tuple(np.max([np.atleast_2d(k).shape for k in _kernels(job)], axis=0))
    itemsize = np.dtype(_OUTPUT_DTYPES[reader.mode]).itemsize
    plan = plan_tiles(shape, kshape, budget=budget, tile=tile, floats=_floats(job),
                      itemsize=itemsize)
    peak = None
    if job.stretch:
        peaks = _tile_array(job, reader, plan, method, None, job.threads)
        peak = float(_compute(peaks.max(), client))
    out = _tile_array(job, reader, plan, method, peak, job.threads)
    bands = plan.row_bands()
    for n, band in enumerate(_bands_in_order(out, bands, client)):
        sink.write_band(band)
        if progress is not None:
            progress(n + 1, len(bands))
    tiles = plan.grid[0] * plan.grid[1]
    return TiledRun(shape, method, strategy, plan.tile_shape, tiles, time.perf_counter() - start)


def _bands_in_order(out, bands, client):
    """Each band of ``out`` computed, in order; on a cluster several bands run at once.

    A band is often a single tile (whole rows are the cheapest tiles), so
    computing one band at a time would keep one worker busy: the client keeps
    two bands per worker thread in flight and hands them on in order, holding
    at most that many finished bands of 8-bit output.
    """
    if client is None:
        for rows in bands:
            yield _compute(out[rows], None)
        return
    import collections

    window = 2 * max(1, sum(client.nthreads().values()))
    flight: collections.deque = collections.deque()
    for rows in bands:
        flight.append(client.compute(out[rows]))
        if len(flight) >= window:
            yield np.asarray(flight.popleft().result())
    while flight:
        yield np.asarray(flight.popleft().result())


def _compute(array, client):
    if client is not None:
        return np.asarray(client.compute(array).result())
    return np.asarray(array.compute(scheduler="synchronous"))


def default_budget() -> int:
    """A quarter of the memory this machine has (and at least 256 MB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        total = 4 * 10**9
    return max(256 * 10**6, total // 4)


def temp_folder() -> str:
    """Where the strips' intermediate floats go: ``CONVTOOL_TMPDIR``, else the system's."""
    return os.environ.get("CONVTOOL_TMPDIR") or tempfile.gettempdir()
