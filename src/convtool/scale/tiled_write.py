"""Writing a tiled BigTIFF a band of rows at a time, never holding the whole image.

:class:`TiledTiffWriter` takes bands of output rows in order (each a whole
number of TIFF tiles high, the last one shorter) and hands ``tifffile`` its
tiles as they complete. The file is written under a temporary name in the
target's folder and renamed into place when complete, like every convtool output.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading

import numpy as np

from convtool.errors import ImageWriteError, UsageError

#: Compression when the input's cannot be copied (a non-TIFF input, or a lossy
#: compression such as JPEG, which would change the filtered samples): lossless.
DEFAULT_COMPRESSION = "zlib"
#: TIFF compressions (tifffile's names, lower case) copied from the input as they are.
LOSSLESS = ("none", "lzw", "adobe_deflate", "deflate", "zstd", "packbits", "lzma", "webp_lossless")
_PHOTOMETRIC = {"L": "minisblack", "LA": "minisblack", "I;16": "minisblack", "RGB": "rgb",
                "RGBA": "rgb", "CMYK": "separated"}
_DTYPE = {"I;16": np.uint16}
TIFF_EXTENSIONS = (".tif", ".tiff", ".btf", ".tf8")


def check_tiff_target(path: str) -> None:
    """Refuse a target that is not a TIFF: tiled output is always a tiled BigTIFF."""
    if not os.fspath(path).lower().endswith(TIFF_EXTENSIONS):
        msg = (f"{path}: tiled filtering writes a tiled BigTIFF; name the output "
               f"{'/'.join(TIFF_EXTENSIONS)} (e.g. out.tif)")
        raise UsageError(msg)


def _compression(name):
    """tifffile's ``compression`` argument for a name: None for none, a lossy one replaced."""
    name = str(name).lower() if name else DEFAULT_COMPRESSION
    if name == "none":
        return None
    return name if name in LOSSLESS else DEFAULT_COMPRESSION


#: --compression names the tiled writer takes, as tifffile's names.
_CHOSEN = {"none": "none", "lzw": "lzw", "deflate": "zlib", "zip": "zlib", "zstd": "zstd",
           "lzma": "lzma", "packbits": "packbits"}


def chosen_compression(name: str) -> str:
    """tifffile's name for the user's ``--compression``; lossy and fax ones are refused.

    Examples
    --------
    >>> chosen_compression("deflate"), chosen_compression("zstd")
    ('zlib', 'zstd')
    """
    found = _CHOSEN.get(str(name).lower())
    if found is None:
        msg = (f"--compression {name}: not available in tiles (the tiled output keeps every "
               f"sample exactly, in any colour); choose {', '.join(_CHOSEN)}")
        raise UsageError(msg)
    return found


class TiledTiffWriter:
    """Write an image of ``shape`` (H, W, C) and ``mode`` to ``path`` band by band.

    Use as a context manager; call :meth:`write_band` with consecutive bands of
    rows. Leaving the block without error publishes the file; an error (or
    Ctrl-C) removes the temporary file.
    """

    def __init__(self, path, shape, mode: str, *, tile: int = 256,
                 compression: str | int | None = None, info: dict | None = None):
        import tifffile

        from convtool.imaging.choices import TEMP_PREFIX, TEMP_SUFFIX
        from convtool.imaging.metadata import SOFTWARE

        self.path = os.fspath(path)
        self.shape, self.mode, self.tile = tuple(shape), mode, tile
        self.dtype = np.dtype(_DTYPE.get(mode, np.uint8))
        folder = os.path.dirname(os.path.abspath(self.path))
        self.tmp = os.path.join(folder, f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}")
        self._tiles: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._rows_done = 0
        self._pending: np.ndarray | None = None
        self._filled = 0
        extratags = []
        icc = (info or {}).get("icc_profile")
        if icc:
            extratags.append((34675, "B", len(icc), icc, True))
        grey = self.shape[2] == 1
        kwargs = {
            "shape": self.shape[:2] if grey else self.shape, "dtype": self.dtype,
            "tile": (tile, tile), "bigtiff": True, "photometric": _PHOTOMETRIC[mode],
            "planarconfig": None if grey else "contig",
            "compression": _compression(compression), "extratags": extratags,
            "metadata": None,
            "software": SOFTWARE,  # the mark that lets a later run replace this file
        }
        if mode in ("LA", "RGBA"):
            kwargs["extrasamples"] = ["unassalpha"]
        self._thread = threading.Thread(target=self._run, args=(tifffile, kwargs), daemon=True)

    def _run(self, tifffile, kwargs) -> None:
        try:
            tifffile.imwrite(self.tmp, self._iter_tiles(), **kwargs)
        except BaseException as exc:  # reported to the writing thread
            self._error = exc

    def _iter_tiles(self):
        while True:
            band = self._tiles.get()
            if band is None:
                return
            yield from band

    def __enter__(self):
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            msg = f"{self.path}: cannot write here ({exc.strerror})"
            raise ImageWriteError(msg) from exc
        os.close(fd)
        self._thread.start()
        return self

    def write_band(self, band: np.ndarray) -> None:
        """The next rows of the image, (rows, W, C), any number of rows.

        Rows are kept until a whole row of TIFF tiles is complete, so at most
        ``tile`` rows of the output are held here.
        """
        h, w, c = self.shape
        if self._pending is None:
            self._pending = np.zeros((self.tile, w, c), self.dtype)
        at = 0
        while at < band.shape[0]:
            take = min(band.shape[0] - at, self.tile - self._filled)
            self._pending[self._filled:self._filled + take] = band[at:at + take]
            self._filled += take
            self._rows_done += take
            at += take
            if self._filled == self.tile or self._rows_done == h:
                self._put(self._split(self._pending))
                self._pending = np.zeros((self.tile, w, c), self.dtype)
                self._filled = 0

    def _split(self, rows: np.ndarray) -> list[np.ndarray]:
        t = self.tile
        if rows.shape[2] == 1:
            rows = rows[:, :, 0]
        pad = ((0, 0),) * (rows.ndim - 2)
        return [np.array(rows[:, col:col + t]) if col + t <= rows.shape[1] else
                np.pad(rows[:, col:], ((0, 0), (0, col + t - rows.shape[1]), *pad))
                for col in range(0, rows.shape[1], t)]

    def _put(self, item) -> None:
        while True:
            if self._error is not None:
                raise self._failure()
            try:
                self._tiles.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _failure(self) -> ImageWriteError:
        msg = f"{self.path}: cannot write ({self._error})"
        return ImageWriteError(msg)

    def __exit__(self, kind, value, tb):
        if kind is None and self._rows_done != self.shape[0]:
            kind = ValueError
        if self._thread.is_alive():
            if kind is not None:
                # Let the writer finish on an empty queue; the file is thrown away.
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._tiles.get_nowait()
            self._tiles.put(None)
            self._thread.join()
        if kind is None and self._error is None:
            os.replace(self.tmp, self.path)
            return False
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp)
        if kind is None:
            raise self._failure()
        return False
