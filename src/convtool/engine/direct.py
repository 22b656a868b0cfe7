"""The direct paths: sums of shifted copies, band by band.

:func:`pairs` runs a sum of separable (column, row) pairs, or a box by running
sums; :func:`full` runs every tap of a 2-D kernel; :func:`nd` is the generic
path for kernels of three or more dimensions (images never get there).
"""

from __future__ import annotations

import numpy as np

from convtool.engine import matmul
from convtool.engine._bands import (
    band_rows,
    border_plan,
    chunks,
    fill_border,
    padded_rows,
    pieces,
)
from convtool.engine.analysis import symmetry
from convtool.engine.box import RunningColumns, restart_rows, window_sums
from convtool.engine.matmul import MIN_TAPS, column_pass, row_kind, row_pass, turned_row_pass
from convtool.engine.modes import pad, pad_index


def tap_terms(f: np.ndarray):
    """``(m, m2, w)`` terms of ``sum_m f[m] x[m]``; a folded pair adds ``x[m] ± x[m2]`` first."""
    k = f.size
    sign = symmetry(f)
    if not sign:
        return [(m, None, float(f[m])) for m in range(k) if f[m] != 0], 0
    terms = []
    if k % 2 and f[k // 2] != 0:
        terms.append((k // 2, None, float(f[k // 2])))
    for m in range(k // 2):
        w = 0.5 * float(f[m] + sign * f[k - 1 - m])
        if w != 0:
            terms.append((m, k - 1 - m, w))
    return terms, sign


def fir(src, taps, out: np.ndarray, tmp: np.ndarray) -> None:
    """``out = sum_m f[m] * src(m)``, folding symmetric taps: (x[m] ± x[K-1-m]) * w.

    ``taps`` is ``tap_terms(f)``, worked out once per call rather than per band.
    """
    terms, sign = taps
    if not terms:
        out[...] = 0
        return
    pair = np.add if sign > 0 else np.subtract
    for n, (m, m2, w) in enumerate(terms):
        target = out if n == 0 else tmp
        if m2 is None:
            np.multiply(src(m), w, out=target)
        else:
            pair(src(m), src(m2), out=target)
            target *= w
        if n:
            out += tmp


def _banded(a3, kh: int, kw: int, mode: str, rows: tuple[int, int]):
    """What both banded paths set up for a kernel of ``kh`` x ``kw`` on ``a3`` (H, W, C).

    The padded row indices, the plan of the padding columns, ``a3`` as (H, W * C),
    the output (the ``rows`` asked for, of W, C) and its (rows, W * C) view, and the
    rows of one band.
    """
    h, w, c = a3.shape
    cb = (kw - 1) // 2
    ridx = pad_index(h, (kh - 1) // 2, kh // 2, mode)
    cplan = border_plan(pad_index(w, cb, kw // 2, mode), cb, w)
    out = np.empty((rows[1] - rows[0], w, c), a3.dtype)
    band = band_rows(h, (w + kw - 1) * c, a3.dtype.itemsize)
    return ridx, cplan, a3.reshape(h, w * c), out, out.reshape(out.shape[0], w * c), band


def _ranges(rows: tuple[int, int], parts: int) -> list[tuple[int, int]]:
    """``rows`` (start, stop) in ``parts`` runs for the threads."""
    start, stop = rows
    return [(start + a, start + b) for a, b in chunks(stop - start, parts)]


def pairs(a3, factor_pairs, mode, cval, workers, box=None, rows=None):
    """Sum over ``factor_pairs`` of separable convolutions of ``a3`` (H, W, C), band by band.

    ``factor_pairs`` is a list of (column, row) weight vectors. With ``box`` (the
    value of every tap of a single pair of ones) the columns are running sums
    (:class:`convtool.engine.box.RunningColumns`) and the rows doubling sums.
    Only output ``rows`` (start, stop; default all) are made: the others are
    read as the neighbours they are.
    """
    h, w, c = a3.shape
    dt = a3.dtype
    kc, kr = factor_pairs[0][0].size, factor_pairs[0][1].size
    rb, cb, wp = (kc - 1) // 2, (kr - 1) // 2, w + kr - 1
    rows = rows or (0, h)
    ridx, cplan, flat, out, oflat, band = _banded(a3, kc, kr, mode, rows)
    flipped = [(col[::-1].copy(), row[::-1].copy(), cval * float(col.sum()))
               for col, row in factor_pairs]
    taps = [(tap_terms(fc), tap_terms(fr)) for fc, fr, _ in flipped]
    restart = restart_rows(band, kc)
    kinds = [(fc.size >= MIN_TAPS, row_kind(fr.size, c)) for fc, fr, _ in flipped]
    finite = box is None and any(col or row for col, row in kinds) and matmul.finite(a3)
    by_matmul = [(finite and col, row if finite else None) for col, row in kinds]

    def work(h0, h1):
        vbuf = np.empty((band, wp * c), dt)
        tmp = np.empty((band, wp * c), dt)
        tmp2 = np.empty((band, wp * c), dt) if (len(flipped) > 1 or box is not None) else None
        gbuf = np.empty((band + kc - 1, w * c), dt) if box is None else None
        # The row pass turns the band on its side: into ``turned`` (``gbuf``, which
        # holds the column pass's rows, when it is large enough), out of ``tmp``.
        turned = done = None
        if box is None and any(rows == "turned" for _, rows in by_matmul):
            size = wp * matmul.turned_width(band * c)
            turned = gbuf.reshape(-1) if gbuf.size >= size else np.empty(size, dt)
            done = tmp.reshape(-1) if tmp.size >= size else np.empty(size, dt)
        columns = None if box is None else \
            RunningColumns(flat, ridx, rb, kc, cval, box, h0, restart, band)
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            r = b - a
            for n, (fc, fr, side) in enumerate(flipped):
                vmid = vbuf[:r, cb * c:(cb + w) * c]
                if columns is not None:
                    side = columns.sums(a, b, vmid, tmp)
                elif kc == 1:
                    np.multiply(flat[a:b], fc[0], out=vmid)
                else:
                    src = padded_rows(flat, ridx, rb, a, b + kc - 1, cval, gbuf)
                    if by_matmul[n][0]:
                        column_pass(src, fc, vmid)
                    else:
                        fir(lambda m, src=src, r=r: src[m:m + r], taps[n][0], vmid,
                            tmp[:r, :w * c])
                target = oflat[a - rows[0]:b - rows[0]] if n == 0 else tmp2[:r, :w * c]
                if kr == 1 and box is None:
                    np.multiply(vmid, fr[0], out=target)
                else:
                    fill_border(vbuf[:r].reshape(r, wp, c), cplan, side)
                    if box is not None:
                        window_sums(vbuf[:r], kr, c, w, target, (tmp[:r], tmp2[:r]))
                    elif by_matmul[n][1] == "blocks":
                        row_pass(vbuf[:r], fr, target, c)
                    elif by_matmul[n][1]:
                        turned_row_pass(vbuf[:r], fr, target, c, (turned, done))
                    else:
                        fir(lambda m, r=r: vbuf[:r, m * c:(m + w) * c], taps[n][1], target,
                            tmp[:r, :w * c])
                if n:
                    oflat[a - rows[0]:b - rows[0]] += target

    n = rows[1] - rows[0]
    parts = workers.count if box is not None else pieces(workers, n, band)
    workers.run(work, _ranges(rows, parts))
    return out


def full(a3, kernel, mode, cval, workers, rows=None):
    """Non-separable 2-D kernel: every tap is a multiply-add of a shifted band (output
    ``rows`` only, as :func:`pairs`)."""
    h, w, c = a3.shape
    dt = a3.dtype
    kh, kw = kernel.shape
    rb, cb, wp = (kh - 1) // 2, (kw - 1) // 2, w + kw - 1
    made = rows or (0, h)
    ridx, cplan, flat, out, oflat, band = _banded(a3, kh, kw, mode, made)
    flipped = kernel[::-1, ::-1]
    # A column pass per kernel column with any weight, summed (see engine.matmul).
    columns = [(j, flipped[:, j].copy(), tap_terms(flipped[:, j])) for j in range(kw)
               if np.any(flipped[:, j] != 0)]
    by_matmul = matmul.usable(a3, kh)

    def work(h0, h1):
        pbuf = np.empty((band + kh - 1, wp * c), dt)
        gbuf = np.empty((band + kh - 1, w * c), dt)
        tmp = np.empty((band, w * c), dt)
        tmp2 = None if by_matmul else np.empty((band, w * c), dt)  # tap-by-tap scratch
        for a in range(h0, h1, band):
            b = min(a + band, h1)
            r = b - a
            rows = r + kh - 1
            pbuf[:rows, cb * c:(cb + w) * c] = padded_rows(flat, ridx, rb, a, a + rows, cval,
                                                           gbuf)
            fill_border(pbuf[:rows].reshape(rows, wp, c), cplan, cval)
            target = oflat[a - made[0]:b - made[0]]
            if not columns:
                target[...] = 0
            for n, (j, f, terms) in enumerate(columns):
                view = pbuf[:rows, j * c:(j + w) * c]
                dest = target if n == 0 else tmp[:r]
                if by_matmul:
                    column_pass(view, f, dest)
                else:
                    fir(lambda m, view=view, r=r: view[m:m + r], terms, dest, tmp2[:r])
                if n:
                    target += dest

    workers.run(work, _ranges(made, pieces(workers, made[1] - made[0], band)))
    return out


def nd(array, kernel, mode, cval):
    """Kernels of three or more dimensions: one multiply-add per tap of the padded array."""
    padded = pad(array, kernel.shape, mode, cval)
    flipped = kernel[tuple(slice(None, None, -1) for _ in range(kernel.ndim))]
    flipped = flipped.astype(array.dtype)
    shape = array.shape[:kernel.ndim]
    out = np.zeros_like(array)
    tmp = np.empty_like(array)
    for index in np.ndindex(*kernel.shape):
        w = flipped[index]
        if w == 0:
            continue
        window = tuple(slice(i, i + s) for i, s in zip(index, shape, strict=True))
        np.multiply(padded[window], w, out=tmp)
        out += tmp
    return out
