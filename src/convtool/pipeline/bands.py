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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from convtool import imaging
from convtool.pipeline import job as _job

#: Float bytes of one band (without its halo): big enough for the engine's
#: threads and the halo to cost little, small enough to stay a few MB.
BAND_BYTES = 4 << 20


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


def _unit(pixels: np.ndarray) -> np.ndarray:
    out = pixels.astype(np.float32)
    out /= np.float32(255.0)
    return out


def _quantise_into(out: np.ndarray, values: np.ndarray) -> None:
    """Round 0..1 floats to 8-bit levels into ``out``, as the writer does for whole images."""
    np.clip(values, 0.0, 1.0, out=values)
    values *= 255.0
    np.rint(values, out=values)
    out[...] = values


def apply_job_banded(job: _job.FilterJob, image: imaging.Image) -> imaging.Image:
    """Filter an 8-bit ``image`` (uint8 pixels) band by band; returns uint8 pixels.

    The caller checks :func:`can_band` first. The method is chosen once for
    the whole image, so every band runs the same one. Bands run on
    ``job.threads`` threads (default: one per core), each band on one engine
    thread, so the conversions run in parallel too and no thread pool is
    started per band.
    """
    pixels = image.pixels
    height = pixels.shape[0]
    workers = job.threads or os.cpu_count() or 1
    job = replace(job, method=job.method_for(pixels.shape), threads=1)
    rows, halo = band_rows(job, pixels.shape), _reach(job)
    out = np.empty(pixels.shape, dtype=np.uint8)

    def one_band(start: int) -> None:
        stop = min(start + rows, height)
        top, bottom = max(0, start - halo), min(height, stop + halo)
        band = replace(image, pixels=_unit(pixels[top:bottom]))
        filtered = _job.apply_job(job, band).pixels
        _quantise_into(out[start:stop], filtered[start - top:stop - top])

    starts = range(0, height, rows)
    if workers == 1:
        for start in starts:
            one_band(start)
    else:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            list(pool.map(one_band, starts))  # in order; re-raises a band's exception
    return replace(image, pixels=out)
