"""Filter an 8-bit image a band of rows at a time, so its float copy never exists whole.

:func:`~convtool.pipeline.apply_job` works on a float32 copy of the whole image
(4 bytes a sample) and makes a few more while filtering: a 12 MP RGB photo
peaked at ~355 MB. Here the image stays uint8 (1 byte a sample, as decoded)
and each band of rows, with ``halo`` rows of its neighbours above and below,
is converted to float, filtered by ``apply_job`` itself and rounded back into
the uint8 output. Only the band's own rows are kept: their values depend on
the halo rows (real neighbours, as in the whole image) and never on the
band's borders, where the boundary mode acts. At the image's top and bottom
the band's border *is* the image's, so the mode acts there as on the whole.

So the result is the whole-image result (to float rounding, far below one
8-bit level), for every kernel path (direct, box, FFT, gradient pairs,
thresholds, alpha, linear light, channel subsets), except where a band cannot
stand alone: ``stretch`` (divides by the whole image's peak), ``wrap`` (the
top's neighbours are the bottom rows), animations, and kernels so tall that
the halo would dwarf the band: :func:`can_band` says no and the caller filters
the whole image.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from convtool import imaging
from convtool.pipeline import job as _job

#: Float bytes of one band (without its halo): big enough for the per-band calls
#: and the halo's conversion to cost little, small enough to stay a few MB. Since
#: only a band's own rows are filtered (not its halo), 2 MB bands filter a 12 MP
#: photo about as fast as 4 MB ones (0.135 against 0.130 s, sigma 2) and peak ~9 MB
#: lower (95 against 104 MB for a whole ``convtool blur`` of it).
BAND_BYTES = 2 << 20


def _reach(job: _job.FilterJob) -> int:
    """Rows above or below a pixel that its filtered value depends on."""
    kernels = [k for k in (job.kernel, job.kernel_y) if k is not None]
    return max(k.array.shape[0] // 2 for k in kernels)  # axis 0 is rows, 1-D kernels too


def band_rows(job: _job.FilterJob, shape) -> int:
    """Rows per band for an image of ``shape`` (H, W, C)."""
    row_bytes = 4 * int(np.prod(shape[1:]))
    return max(1, BAND_BYTES // max(1, row_bytes), 4 * _reach(job))


def can_band(job: _job.FilterJob, image: imaging.Image) -> bool:
    """True when :func:`apply_job_banded` gives ``image`` the whole-image result."""
    if image.pixels.dtype != np.uint8 or image.extra_frames:
        return False
    if job.stretch or job.mode == "wrap":
        return False
    height = image.pixels.shape[0]
    return band_rows(job, image.pixels.shape) < height  # one band: nothing to gain


def to_float(image: imaging.Image) -> imaging.Image:
    """``image`` with uint8 pixels as the float32 0..1 pixels every other path takes."""
    if image.pixels.dtype != np.uint8:
        return image
    # Only the uint8 frames: a multi-page TIFF may mix 8-bit pages with float ones.
    frames = [replace(f, pixels=_unit(f.pixels) if f.pixels.dtype == np.uint8 else f.pixels,
                      extra_frames=()) for f in image.frames]
    return replace(frames[0], extra_frames=tuple(frames[1:]))


def _unit(pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 levels as float32 0..1 (each level's exact float32, divided by 255), into ``out``."""
    return np.divide(pixels, np.float32(255.0), out=out, dtype=np.float32)


class _Buffers:
    """Each thread's float band, made once and refilled for every band.

    Threads that allocate a fresh band each time contend for the process's
    page tables (every new page is a fault under one lock): on 2 cores a 12 MP
    blur took 0.53 s that way against 0.38 s with the buffers reused.
    """

    def __init__(self, shape: tuple[int, ...]):
        self._shape = shape
        self._local = threading.local()

    def unit(self, parts: list[np.ndarray]) -> np.ndarray:
        """The uint8 rows of ``parts``, stacked, as float32 0..1 in this thread's buffer."""
        buffer = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = np.empty(self._shape, dtype=np.float32)
        rows = sum(p.shape[0] for p in parts)
        out, top = buffer[:rows], 0
        for part in parts:
            _unit(part, out[top:top + part.shape[0]])
            top += part.shape[0]
        return out


def _quantise_into(out: np.ndarray, values: np.ndarray) -> None:
    """Round 0..1 floats to 8-bit levels into ``out``, as the writer does for whole images."""
    np.clip(values, 0.0, 1.0, out=values)
    values *= 255.0
    np.rint(values, out=values)
    out[...] = values


def apply_job_banded(job: _job.FilterJob, image: imaging.Image, *,
                     in_place: bool = False) -> imaging.Image:
    """Filter an 8-bit ``image`` (uint8 pixels) band by band; returns uint8 pixels.

    The caller checks :func:`can_band` first. The method is chosen once for
    the whole image, so every band runs the same one. Bands run on
    ``job.threads`` threads (default: one per core), each band on one engine
    thread, so the conversions run in parallel too and no thread pool is
    started per band. With ``in_place`` the result is written over
    ``image.pixels`` (when writable), so no second whole image exists: the
    caller gives up the input (see :func:`_in_place`).
    """
    pixels = image.pixels
    height = pixels.shape[0]
    workers = job.threads or os.cpu_count() or 1
    job = replace(job, method=job.method_for(pixels.shape), threads=1)
    rows, halo = band_rows(job, pixels.shape), _reach(job)
    starts = range(0, height, rows)

    buffers = _Buffers((rows + 2 * halo, *pixels.shape[1:]))

    def filtered(start: int, parts: list[np.ndarray], out: np.ndarray) -> None:
        """Rows ``start``.. of the result into ``out``; ``parts``: the band and its halo."""
        stop = min(start + rows, height)
        top = max(0, start - halo)
        band = replace(image, pixels=buffers.unit(parts))
        # Only the band's own rows are filtered: the halo rows are its neighbours.
        result = _job.apply_job(job, band, rows=(start - top, stop - top)).pixels
        _quantise_into(out[start:stop], result)

    if in_place and pixels.flags.writeable:
        _in_place(pixels, starts, rows, halo, workers, filtered)
        return replace(image, pixels=pixels)
    out = np.empty(pixels.shape, dtype=np.uint8)

    def one_band(start: int) -> None:
        stop = min(start + rows, height)
        filtered(start, [pixels[max(0, start - halo):min(height, stop + halo)]], out)

    _run(one_band, starts, workers)
    return replace(image, pixels=out)


def _run(task, starts, workers: int) -> None:
    if workers == 1 or len(starts) == 1:
        for start in starts:
            task(start)
        return
    with ThreadPoolExecutor(min(workers, len(starts))) as pool:
        list(pool.map(task, starts))  # in order; re-raises a band's exception


def _in_place(pixels: np.ndarray, starts, rows: int, halo: int, workers: int,
              filtered) -> None:
    """Filter ``pixels`` over themselves, bands on ``workers`` threads.

    A band writes only its own rows, after reading them, but its neighbours
    read ``halo`` of those rows too. So before a band is handed to a thread,
    the ``halo`` rows on each side of its lower border are copied aside (no
    band that touches them has started yet): the bands above and below that
    border read each other's rows from the copy, never from rows the other may
    have written already. Bands but the last are at least ``4 * halo`` rows
    (:func:`band_rows`), so the rows around a border belong to the two bands
    that meet there. At most ``2 * workers`` bands are handed out ahead, so a
    few copies exist at a time.
    """
    height = pixels.shape[0]

    def one_band(start: int, above: np.ndarray | None, below: np.ndarray | None) -> None:
        stop = min(start + rows, height)
        parts = [above[:halo]] if above is not None else []  # the band above's last rows
        parts.append(pixels[start:stop])
        if below is not None:
            parts.append(below[halo:])  # the band below's first rows
        filtered(start, parts, pixels)

    def border(row: int) -> np.ndarray | None:
        return pixels[row - halo:min(height, row + halo)].copy() if row < height else None

    if workers == 1 or len(starts) == 1:
        above = None
        for start in starts:
            below = border(start + rows)
            one_band(start, above, below)
            above = below
        return
    ahead = threading.BoundedSemaphore(2 * workers)

    def task(*args) -> None:
        try:
            one_band(*args)
        finally:
            ahead.release()

    with ThreadPoolExecutor(min(workers, len(starts))) as pool:
        futures, above = [], None
        for start in starts:
            ahead.acquire()
            below = border(start + rows)
            futures.append(pool.submit(task, start, above, below))
            above = below
        for future in futures:
            future.result()  # re-raises a band's exception
