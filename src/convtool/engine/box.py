"""The box path: a kernel whose values are all equal, by running sums.

Down the columns a running sum (restarted now and then), along the rows sums
by doubling: the time hardly depends on the size of the box.
"""

from __future__ import annotations

import numpy as np

from convtool.engine._bands import padded_rows


def restart_rows(band: int, kc: int) -> int:
    """Rows after which the running sum is summed afresh.

    At most 1024, so that its rounding drift stays below 1024 eps of the
    window's sum (6e-5 of it in float32 at worst), for ``kc / restart`` extra
    passes; a whole number of bands, so that restarts fall on a band's first row.
    """
    return band * max(1, min(1024, max(256, 4 * kc)) // band)


class RunningColumns:
    """Sums of ``kc`` consecutive padded rows, one band after the other, for one thread.

    Row ``i`` of the sums is row ``i - 1`` plus the difference of padded rows
    ``i + kc - 1`` and ``i - 1``: the differences are one ufunc call per band,
    the sum one per row.
    """

    def __init__(self, flat, ridx, before, kc, cval, box, h0, restart, band):
        self.flat, self.ridx, self.before, self.kc = flat, ridx, before, kc
        self.cval, self.box, self.h0, self.restart = cval, box, h0, restart
        wc = flat.shape[1]
        self.acc = np.empty(wc, flat.dtype)
        self.hbuf = np.empty((band, wc), flat.dtype)
        self.lbuf = np.empty((band, wc), flat.dtype)

    def _padded_row(self, p):
        i = self.ridx[p]
        return self.flat[i] if i >= 0 else self.cval

    def _restart(self, a) -> None:
        kc, acc, ridx = self.kc, self.acc, self.ridx
        i0 = ridx[a]
        if i0 >= 0 and ridx[a + kc - 1] == i0 + kc - 1:
            # The window lies inside the array: one call, the same sum in the
            # same order as the loop below.
            np.add.reduce(self.flat[i0:i0 + kc], axis=0, out=acc)
        else:
            acc[...] = self._padded_row(a)
            for p in range(a + 1, a + kc):
                acc += self._padded_row(p)

    def sums(self, a: int, b: int, vmid: np.ndarray, tmp: np.ndarray) -> float:
        """Box-weighted column sums of rows ``a:b`` into ``vmid``; returns the value outside."""
        kc, r = self.kc, b - a
        fresh = (a - self.h0) % self.restart == 0
        if fresh:
            self._restart(a)
        s0 = int(fresh)
        diff = tmp[:r - s0, :vmid.shape[1]]
        np.subtract(
            padded_rows(self.flat, self.ridx, self.before, a + s0 + kc - 1, b + kc - 1,
                        self.cval, self.hbuf),
            padded_rows(self.flat, self.ridx, self.before, a + s0 - 1, b - 1, self.cval,
                        self.lbuf),
            out=diff)
        if fresh:
            vmid[0] = self.acc
        for j in range(s0, r):
            np.add(vmid[j - 1] if j else self.acc, diff[j - s0], out=vmid[j])
        self.acc[...] = vmid[r - 1]
        vmid *= self.box
        return self.cval * self.box * kc


def window_sums(v: np.ndarray, k: int, c: int, w: int, out: np.ndarray, bufs) -> None:
    """Sums of ``k`` consecutive columns of ``v`` (r, (w + k - 1) * c) into ``out`` (r, w * c).

    Doubling: sums of 1, 2, 4, ... columns, each from two of the previous, and
    ``out`` adds one of them per set bit of ``k``: about ``2 log2 k`` passes, and
    each output is a balanced sum, so float32 stays accurate.
    """
    cur, length, width, offset, started, turn = v, w + k - 1, 1, 0, False, 0
    pending = None  # a first term still in ``v``, added to the second without a copy
    while k:
        if k & 1:
            seg = cur[:, offset * c:(offset + w) * c]
            if pending is not None:
                np.add(pending, seg, out=out)
                pending = None
            elif started:
                out += seg
            elif cur is v:
                pending = seg
            else:
                out[...] = seg
            started = True
            offset += width
        k >>= 1
        if k:
            nxt = bufs[turn][:, :(length - width) * c]
            np.add(cur[:, :(length - width) * c], cur[:, width * c:length * c], out=nxt)
            cur, length, width, turn = nxt, length - width, 2 * width, 1 - turn
    if pending is not None:
        out[...] = pending
