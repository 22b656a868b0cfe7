"""Scratch arrays on disk that do not count against the memory budget.

A numpy memmap held open keeps every page it touched in the process's
resident memory (file pages, but resident all the same): a 5 GB intermediate
would show as 5 GB. :class:`ScratchArray` reads and writes whole rows, and
blocks of columns row by row, with ``pread``/``pwrite``, so the file's pages
stay in the page cache, never in this process; other accesses map the file
only for their duration. Nothing is flushed: ``msync`` waited for the disk at
every write (a third of the FFT strips' time), and the page cache is coherent.
"""

from __future__ import annotations

import os

import numpy as np


class ScratchArray:
    """A file-backed array of ``shape`` and ``dtype`` at ``path``."""

    def __init__(self, path: str, shape, dtype):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self._row = int(np.prod(self.shape[1:])) * self.dtype.itemsize  # bytes a row
        with open(path, "wb") as f:
            f.truncate(self.shape[0] * self._row)

    def _map(self, mode: str) -> np.memmap:
        return np.memmap(self.path, self.dtype, mode, shape=self.shape)

    def _rows(self, key) -> tuple[int, int] | None:
        """``(start, stop)`` when ``key`` selects whole consecutive rows."""
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            return start, max(start, stop)
        return None

    def _columns(self, key) -> tuple[int, int] | None:
        """``(start, stop)`` when ``key`` is ``[:, start:stop]`` (every row, some columns)."""
        if (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)
                and isinstance(key[1], slice) and key[1].step in (None, 1)
                and len(self.shape) >= 2):
            start, stop, _ = key[1].indices(self.shape[1])
            return start, max(start, stop)
        return None

    def __getitem__(self, key) -> np.ndarray:
        rows = self._rows(key)
        if rows is not None:
            out = np.empty((rows[1] - rows[0], *self.shape[1:]), self.dtype)
            with open(self.path, "rb", buffering=0) as f:
                view = memoryview(out.reshape(-1).view(np.uint8))
                at, offset = 0, rows[0] * self._row
                while at < len(view):
                    got = os.preadv(f.fileno(), [view[at:]], offset + at)
                    if got <= 0:
                        raise OSError(f"{self.path}: short read")
                    at += got
            return out
        mapped = self._map("r")
        try:
            return np.array(mapped[key])
        finally:
            del mapped

    def __setitem__(self, key, value) -> None:
        rows, columns = self._rows(key), self._columns(key)
        if rows is None and columns is None:
            mapped = self._map("r+")
            try:
                mapped[key] = value
            finally:
                del mapped
            return
        with open(self.path, "r+b", buffering=0) as f:
            if rows is not None:
                block = np.broadcast_to(np.asarray(value, self.dtype),
                                        (rows[1] - rows[0], *self.shape[1:]))
                os.pwrite(f.fileno(), np.ascontiguousarray(block).tobytes(),
                          rows[0] * self._row)
                return
            c0, c1 = columns
            block = np.broadcast_to(np.asarray(value, self.dtype),
                                    (self.shape[0], c1 - c0, *self.shape[2:]))
            per_column = self._row // self.shape[1]
            for r in range(self.shape[0]):
                os.pwrite(f.fileno(), np.ascontiguousarray(block[r]).tobytes(),
                          r * self._row + c0 * per_column)
