"""The separable FFT out of core: whole columns first, then whole rows.

The engine's separable FFT (:func:`convtool.engine.convolve`, method ``fft``)
transforms every column at the image's full height, then every row at its full
width; each line's result depends on that line and the transform length only.
This path runs the same two passes on full-height strips of columns (their
results kept in a temporary float32 file) and then on full-width bands of rows,
so each sample comes out of the same arithmetic as in memory.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from convtool import engine, imaging
from convtool.errors import UsageError
from convtool.scale import outofcore
from convtool.scale.scratch import ScratchArray
from convtool.scale.tiles import TIFF_TILE


def _lines(budget: int, length: int, channels: int, floats: int, least: int, what: str) -> int:
    """How many full lines of ``length`` samples fit the budget (at least ``least``)."""
    per_line = length * channels * 4 * floats
    n = budget // per_line
    if n < 1:
        msg = (f"--memory {budget:,} bytes cannot hold one {what} of {length:,} pixels "
               f"({per_line:,} bytes); allow more memory")
        raise UsageError(msg)
    return max(1, min(n, least))


def _column_pass(job, reader, inter, factors, width: int, folder: str) -> None:
    """Filter full-height strips of columns with each kernel's column factor into ``inter``.

    ``inter`` holds True where a kernel needs a column pass; it is replaced by
    a float32 file of the filtered columns (as many channels as are filtered).
    """
    from convtool.pipeline import channel_indices

    h, w, c = reader.shape
    rows = np.arange(h)
    chosen = channel_indices(reader.mode, job.channels, c)
    subset = len(chosen) < c
    for c0 in range(0, w, width):
        c1 = min(c0 + width, w)
        image = imaging.Image(pixels=reader.gather(rows, np.arange(c0, c1)), mode=reader.mode)
        work = imaging.filter_space(image, alpha="separate" if subset else job.alpha,
                                    linear=job.linear)
        sub = work[..., chosen] if subset else work
        for n, (col, _) in enumerate(factors):
            if inter[n] is True:
                inter[n] = ScratchArray(os.path.join(folder, f"columns{n}.f32"),
                                        (h, w, sub.shape[2]), np.float32)
            if inter[n] is not None:
                inter[n][:, c0:c1] = engine.convolve(sub, col[:, None], mode=job.mode,
                                                   cval=job.cval, method="fft",
                                                   threads=job.threads)
        del image, work, sub


def _row_convolve(job, inter, factors, rows: slice):
    """``convolve(sub, kernel)`` for a band: the second pass of each kernel's FFT."""
    by_kernel = {id(k): n for n, k in enumerate(outofcore._kernels(job))}

    def convolve(sub, kernel):
        n = by_kernel[id(kernel)]
        col, row = factors[n]
        if inter[n] is None:  # a one-row kernel: the engine runs only the row pass
            return engine.convolve(sub, (row * col[0])[None, :], mode=job.mode, cval=job.cval,
                                   method="fft", threads=job.threads)
        side = job.cval * float(col.sum())  # what the engine pads the filtered columns with
        return engine.convolve(inter[n][rows], row[None, :], mode=job.mode,
                               cval=side, method="fft", threads=job.threads)

    return convolve


def filter_strips(job, reader, sink, *, budget: int, tile: int | None = None, progress=None):
    """Run ``job`` (a separable FFT) over ``reader`` into ``sink``; returns ``(strip, count)``."""
    h, w, c = reader.shape
    kernels = outofcore._kernels(job)
    factors = [outofcore._separable_fft(reader.shape, k) for k in kernels]
    floats = outofcore._floats(job)
    width = tile or _lines(budget, h, c, floats, w, "column")
    band = tile or _lines(budget, w, c, floats + len(kernels), h, "row")
    if not tile:  # whole rows of TIFF tiles when the budget allows
        band = band // TIFF_TILE * TIFF_TILE or band
    with tempfile.TemporaryDirectory(prefix="convtool-strips-", dir=outofcore.temp_folder()) as tmp:
        # A one-row kernel has no column pass in the engine (see _row_convolve).
        inter = [True if col.size > 1 or row.size == 1 else None for col, row in factors]
        _column_pass(job, reader, inter, factors, width, tmp)
        peak = None
        if job.stretch:
            peak = max(_band_result(job, reader, inter, factors, slice(r, min(r + band, h)),
                                    None) for r in range(0, h, band))
        count = 0
        for r in range(0, h, band):
            rows = slice(r, min(r + band, h))
            sink.write_band(_band_result(job, reader, inter, factors, rows, peak))
            count += 1
            if progress is not None:
                progress(count, -(-h // band))
        del inter
    return (h, width), -(-w // width) + count


def _band_result(job, reader, inter, factors, rows: slice, peak):
    w = reader.shape[1]
    pixels = reader.gather(np.arange(rows.start, rows.stop), np.arange(w))
    image = imaging.Image(pixels=pixels, mode=reader.mode)
    everything = (slice(None), slice(None))
    out = outofcore._filtered(job, image, everything, _row_convolve(job, inter, factors, rows),
                              peak)
    if peak is None and job.stretch:
        return out
    return outofcore._to_output(out, reader.mode)
