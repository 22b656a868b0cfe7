"""The FFT paths.

Lengths are 5-smooth; the data stay float32 (complex64) for float32 input; the
kernel's transform is made once and reused for every channel. A valid
convolution of a padded axis of length N + K - 1 needs a transform of only that
length: the circular wrap-around lands in the K - 1 outputs that are thrown away.
Padded samples come from the mode's index rule; an index of -1 takes ``cval``.
"""

from __future__ import annotations

import numpy as np

from convtool.engine._bands import band_rows, chunks
from convtool.engine.modes import pad, pad_index
from convtool.engine.planner import next_fast_len


def _complex(dt):
    return np.complex64 if dt == np.float32 else np.complex128


def axis0(flat, f, mode, cval, out, workers):
    """Convolve the columns of ``flat`` (H, M) with ``f`` by FFT into ``out`` (H, M)."""
    h, m = flat.shape
    k = f.size
    length = next_fast_len(h + k - 1)
    ridx = pad_index(h, (k - 1) // 2, k // 2, mode)
    outside = ridx < 0
    kspec = np.fft.rfft(f, n=length).astype(_complex(flat.dtype))[:, None]
    n = workers.count
    step = max(8, min(256, m // (4 * n) or 8))

    def work(c0, c1):
        for a in range(c0, c1, step):
            b = min(a + step, c1)
            # Fancy indexing, not np.take: take copies a non-contiguous source whole.
            cols = flat[np.maximum(ridx, 0), a:b]
            cols[outside] = cval
            spec = np.fft.rfft(cols, n=length, axis=0)
            spec *= kspec
            out[:, a:b] = np.fft.irfft(spec, n=length, axis=0)[k - 1:k - 1 + h]

    workers.run(work, chunks(m, 4 * n))


def axis1(a3, f, mode, cval, out, workers):
    """Convolve along axis 1 of ``a3`` (H, W, C) by FFT into ``out``; may be ``a3`` itself."""
    h, w, c = a3.shape
    k = f.size
    length = next_fast_len(w + k - 1)
    cidx = pad_index(w, (k - 1) // 2, k // 2, mode)
    outside = cidx < 0
    kspec = np.fft.rfft(f, n=length).astype(_complex(a3.dtype))[None, :, None]
    band = band_rows(h, length * c, 8)

    def work(h0, h1):
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            rows = np.take(a3[a:b], np.maximum(cidx, 0), axis=1)
            rows[:, outside] = cval
            spec = np.fft.rfft(rows, n=length, axis=1)
            spec *= kspec
            out[a:b] = np.fft.irfft(spec, n=length, axis=1)[:, k - 1:k - 1 + w]

    workers.run(work, chunks(h, 4 * workers.count))


def separable(a3, col, row, mode, cval, workers):
    """A rank-1 kernel ``outer(col, row)``: a 1-D transform along each axis that needs one.

    ``a3`` and the result are C-contiguous (H, W, C), so that the (H, W * C)
    views below are views, not copies.
    """
    h, w, c = a3.shape
    out = np.empty(a3.shape, a3.dtype)
    if col.size > 1 or row.size == 1:
        axis0(a3.reshape(h, w * c), col, mode, cval, out.reshape(h, w * c), workers)
        src, side = out, cval * float(col.sum())
    else:
        src, side = a3, cval
        row = row * col[0]
    if row.size > 1:
        axis1(src, row, mode, side, out, workers)
    elif src is not out:
        np.multiply(src, row[0], out=out)
    else:
        out *= row[0]
    return out


class _Full2D:
    """2-D FFT of one channel at a time; each stage split among the threads."""

    def __init__(self, a3, kernel, mode, cval, workers):
        h, w = a3.shape[:2]
        self.a3, self.kernel, self.cval, self.workers = a3, kernel, cval, workers
        kh, kw = kernel.shape
        self.l0, self.l1 = next_fast_len(h + kh - 1), next_fast_len(w + kw - 1)
        self.ridx = pad_index(h, (kh - 1) // 2, kh // 2, mode)
        self.cidx = pad_index(w, (kw - 1) // 2, kw // 2, mode)
        self.parts = 4 * workers.count
        self.nrows = h + kh - 1
        self.band = band_rows(self.nrows, self.l1, 8)
        ctype = _complex(a3.dtype)
        self.kspec = np.empty((self.l0, self.l1 // 2 + 1), ctype)
        self.spec = np.empty((self.l0, self.l1 // 2 + 1), ctype)
        self.out = np.empty(a3.shape, a3.dtype)

    def kernel_spectrum(self) -> None:
        """The kernel's transform, in the data's precision: its rows, then the columns."""
        krows = np.fft.rfft(self.kernel.astype(self.a3.dtype), n=self.l1, axis=1)

        def columns(c0, c1):
            self.kspec[:, c0:c1] = np.fft.fft(krows[:, c0:c1], n=self.l0, axis=0)

        self.workers.run(columns, chunks(self.l1 // 2 + 1, self.parts))

    def forward_rows(self, plane, p0, p1) -> None:
        cmax, cout = np.maximum(self.cidx, 0), self.cidx < 0
        for a in range(p0, p1, self.band):
            b = min(a + self.band, p1)
            sel = self.ridx[a:b]
            rows = plane[np.ix_(np.maximum(sel, 0), cmax)]
            rows[sel < 0] = self.cval
            rows[:, cout] = self.cval
            np.fft.rfft(rows, n=self.l1, axis=1, out=self.spec[a:b])

    def columns(self, c0, c1) -> None:
        step = 64
        for a in range(c0, c1, step):
            b = min(a + step, c1)
            block = np.fft.fft(self.spec[:, a:b], axis=0)
            block *= self.kspec[:, a:b]
            self.spec[:, a:b] = np.fft.ifft(block, axis=0)

    def inverse_rows(self, ch, p0, p1) -> None:
        kh, kw = self.kernel.shape
        w = self.a3.shape[1]
        for a in range(p0, p1, self.band):
            b = min(a + self.band, p1)
            full = np.fft.irfft(self.spec[kh - 1 + a:kh - 1 + b], n=self.l1, axis=1)
            self.out[a:b, :, ch] = full[:, kw - 1:kw - 1 + w]

    def run(self) -> np.ndarray:
        self.kernel_spectrum()
        h = self.a3.shape[0]
        for ch in range(self.a3.shape[2]):
            plane = self.a3[:, :, ch]
            # Zero padding, for every channel: the previous channel's inverse left the
            # tail of its result here. Those values would only reach discarded outputs,
            # but they grow with each channel and their rounding reaches every output.
            self.spec[self.nrows:] = 0
            self.workers.run(lambda p0, p1, plane=plane: self.forward_rows(plane, p0, p1),
                             chunks(self.nrows, self.parts))
            self.workers.run(self.columns, chunks(self.l1 // 2 + 1, self.parts))
            self.workers.run(lambda p0, p1, ch=ch: self.inverse_rows(ch, p0, p1),
                             chunks(h, self.parts))
        return self.out


def full(a3, kernel, mode, cval, workers):
    """A 2-D kernel of rank above 1: a 2-D transform per channel."""
    return _Full2D(a3, kernel, mode, cval, workers).run()


def nd(array, kernel, mode, cval):
    """Kernels of three or more dimensions: one N-D transform of the padded array."""
    nd_ = kernel.ndim
    axes = tuple(range(nd_))
    padded = pad(array, kernel.shape, mode, cval)
    fshape = [next_fast_len(padded.shape[i]) for i in axes]
    spec = np.fft.rfftn(padded, s=fshape, axes=axes)
    kspec = np.fft.rfftn(kernel, s=fshape, axes=axes).astype(spec.dtype)
    kspec = kspec.reshape(kspec.shape + (1,) * (array.ndim - nd_))
    spec *= kspec
    full_ = np.fft.irfftn(spec, s=fshape, axes=axes)
    window = tuple(slice(kernel.shape[i] - 1, kernel.shape[i] - 1 + array.shape[i]) for i in axes)
    return np.ascontiguousarray(full_[window], dtype=array.dtype)
