"""The 2-D FFT out of core (a non-separable kernel): the engine's three stages, on disk.

The engine's 2-D FFT transforms each padded row, then each column of the
row spectra (multiplied by the kernel's spectrum and transformed back), then
each row again. Every line's result depends only on that line and the
transform lengths, so running the stages over bands of rows and blocks of
columns of a spectrum kept in a temporary file gives the in-memory numbers.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from convtool import engine, imaging
from convtool.errors import UsageError
from convtool.scale import outofcore
from convtool.scale.scratch import ScratchArray
from convtool.scale.tiles import TIFF_TILE, axis_index


def _band(budget: int, length: int, floats: int, least: int = 1) -> int:
    n = budget // max(1, length * 4 * floats)
    if n < least:
        msg = f"--memory {budget:,} bytes cannot hold one line of {length:,} samples; allow more"
        raise UsageError(msg)
    return n


def _filter_space(job, reader, rows, cols):
    """Filter-space samples at ``rows x cols`` (-1 marks the constant outside)."""
    from convtool.pipeline import channel_indices

    pixels = reader.gather(np.maximum(rows, 0), np.maximum(cols, 0))
    chosen = channel_indices(reader.mode, job.channels, reader.shape[2])
    subset = len(chosen) < reader.shape[2]
    image = imaging.Image(pixels=pixels, mode=reader.mode)
    work = imaging.filter_space(image, alpha="separate" if subset else job.alpha,
                                linear=job.linear)
    sub = np.array(work[..., chosen] if subset else work)
    if job.mode == "constant":
        sub[rows < 0] = job.cval
        sub[:, cols < 0] = job.cval
    return sub


def _transform(job, reader, kernel, folder: str, budget: int, n: int):
    """Stages 1 and 2 for every channel: the filtered spectra, one file per channel."""
    h, w, _ = reader.shape
    kh, kw = kernel.shape
    l0, l1 = engine.next_fast_len(h + kh - 1), engine.next_fast_len(w + kw - 1)
    ridx = axis_index(h, -((kh - 1) // 2), h + kh // 2, job.mode)
    cidx = axis_index(w, -((kw - 1) // 2), w + kw // 2, job.mode)
    half = l1 // 2 + 1
    krows = np.fft.rfft(kernel.astype(np.float32), n=l1, axis=1)
    spectra = None
    rows_at_once = _band(budget, max(l1, w + kw - 1) * reader.shape[2], 6)
    for a in range(0, ridx.size, rows_at_once):
        sel = ridx[a:a + rows_at_once]
        sub = _filter_space(job, reader, sel, cidx)
        if spectra is None:
            spectra = [ScratchArray(os.path.join(folder, f"k{n}c{ch}.c64"), (l0, half),
                                    np.complex64) for ch in range(sub.shape[2])]
        for ch, spec in enumerate(spectra):
            rows = np.empty((sel.size, half), np.complex64)
            np.fft.rfft(np.ascontiguousarray(sub[:, :, ch]), n=l1, axis=1, out=rows)
            spec[a:a + sel.size] = rows
    cols_at_once = max(1, _band(budget, l0, 8) // 64 * 64)
    for spec in spectra:
        # The file starts as zeros, so the spectrum's padding rows are zero already.
        for c0 in range(0, half, cols_at_once):
            c1 = min(c0 + cols_at_once, half)
            kspec = np.fft.fft(krows[:, c0:c1], n=l0, axis=0).astype(np.complex64)
            block = np.fft.fft(spec[:, c0:c1], axis=0)
            block *= kspec
            spec[:, c0:c1] = np.fft.ifft(block, axis=0)
    return spectra


def filter_spectrum(job, reader, sink, *, budget: int, progress=None):
    """Run ``job`` (a 2-D FFT) over ``reader`` into ``sink``; returns ``(band, count)``."""
    h, w, c = reader.shape
    kernels = outofcore._kernels(job)
    with tempfile.TemporaryDirectory(prefix="convtool-fft-", dir=outofcore.temp_folder()) as tmp:
        spectra = [_transform(job, reader, k, tmp, budget, n) for n, k in enumerate(kernels)]
        band = _band(budget, w * c, outofcore._floats(job) + 2 * len(kernels), 1)
        band = min(h, band // TIFF_TILE * TIFF_TILE or band)

        def result(rows: slice, peak):
            def convolve(sub, kernel):
                n = next(i for i, k in enumerate(kernels) if k is kernel)
                kh, kw = kernel.shape
                l1 = engine.next_fast_len(w + kw - 1)
                out = np.empty((rows.stop - rows.start, w, len(spectra[n])), np.float32)
                for ch, spec in enumerate(spectra[n]):
                    full = np.fft.irfft(spec[kh - 1 + rows.start:kh - 1 + rows.stop], n=l1,
                                        axis=1)
                    out[:, :, ch] = full[:, kw - 1:kw - 1 + w]
                return out

            pixels = reader.gather(np.arange(rows.start, rows.stop), np.arange(w))
            image = imaging.Image(pixels=pixels, mode=reader.mode)
            out = outofcore._filtered(job, image, (slice(None), slice(None)), convolve, peak)
            return out if peak is None and job.stretch else outofcore._to_output(out, reader.mode)

        bands = [slice(r, min(r + band, h)) for r in range(0, h, band)]
        peak = max(result(rows, None) for rows in bands) if job.stretch else None
        for count, rows in enumerate(bands, 1):
            sink.write_band(result(rows, peak))
            if progress is not None:
                progress(count, len(bands))
    return (band, w), len(bands)
