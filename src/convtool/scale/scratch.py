"""Scratch arrays on disk that do not count against the memory budget.

A numpy memmap held open keeps every page it touched in the process's
resident memory (file pages, but resident all the same): a 5 GB intermediate
would show as 5 GB. :class:`ScratchArray` maps its file only for the duration
of one read or write, so the pages go back to the page cache, which the kernel
reclaims as it needs.
"""

from __future__ import annotations

import numpy as np


class ScratchArray:
    """A file-backed array of ``shape`` and ``dtype`` at ``path``, mapped per access."""

    def __init__(self, path: str, shape, dtype):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        with open(path, "wb") as f:
            f.truncate(int(np.prod(self.shape)) * self.dtype.itemsize)

    def _map(self, mode: str) -> np.memmap:
        return np.memmap(self.path, self.dtype, mode, shape=self.shape)

    def __getitem__(self, key) -> np.ndarray:
        mapped = self._map("r")
        try:
            return np.array(mapped[key])
        finally:
            del mapped

    def __setitem__(self, key, value) -> None:
        # No flush: msync waited for the disk at every write (a third of the FFT strips'
        # time); the pages stay in the page cache, which later maps of the file see.
        mapped = self._map("r+")
        try:
            mapped[key] = value
        finally:
            del mapped
