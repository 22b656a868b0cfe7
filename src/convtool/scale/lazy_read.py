"""Reading an image a region at a time.

A :class:`RegionReader` gives the image's shape and mode and returns any
window of it as float32 on convtool's scale (:mod:`convtool.imaging`): 8- and
16-bit values divided by 255 or 65535, exactly as :func:`convtool.imaging.read_image`
does, so a window holds the same numbers as the whole image read in memory.

* Tiled or striped TIFF and BigTIFF (greyscale, RGB, with or without unassociated
  alpha, 8 bits, or 16-bit greyscale) are read through ``tifffile`` as a zarr
  store: a region decodes only the tiles or strips it touches.
* A zarr array of shape (H, W[, C]) and an integer type is read the same way.
* Anything else is decoded once by :func:`convtool.imaging.read_image` and kept as
  integers (a quarter of the float32 size for 8-bit images), then streamed.

Readers are picklable (they reopen their file where they are unpickled), so a
Dask worker can read its own tiles.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from convtool.errors import ImageReadError, UsageError
from convtool.imaging.tiff import is_tiff

_MODES_BY_SAMPLES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _runs(index: np.ndarray):
    """Sorted distinct values of ``index`` as ``(start, stop)`` runs of consecutive integers."""
    values = np.unique(index)
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(values, breaks)], values


class RegionReader:
    """An image read by region: ``shape`` (H, W, C), ``mode``, ``info`` and :meth:`gather`."""

    shape: tuple[int, int, int]
    mode: str
    info: dict
    compression: str | None = None

    def _region(self, rows: slice, cols: slice) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (a later read reopens it)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def gather(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The samples at ``rows x cols`` (index arrays, repeats allowed) as float32 (h, w, C).

        Each run of consecutive indices is read as one region, so a window
        near an edge costs a few region reads, never the whole image.
        """
        row_runs, row_values = _runs(rows)
        col_runs, col_values = _runs(cols)
        if (len(row_runs) == len(col_runs) == 1 and row_values.size == rows.size
                and col_values.size == cols.size and rows[0] <= rows[-1]
                and cols[0] <= cols[-1]):  # inside the image: one region, no reordering
            return _to_float(self._region(slice(*row_runs[0]), slice(*col_runs[0])))
        compact = None
        r_at = 0
        for r0, r1 in row_runs:
            c_at = 0
            for c0, c1 in col_runs:
                block = self._region(slice(r0, r1), slice(c0, c1))
                if compact is None:
                    compact = np.empty((row_values.size, col_values.size, self.shape[2]),
                                       block.dtype)
                compact[r_at:r_at + r1 - r0, c_at:c_at + c1 - c0] = block
                c_at += c1 - c0
            r_at += r1 - r0
        # Two takes along one axis each copy whole rows: far faster than np.ix_.
        raw = np.take(compact, np.searchsorted(row_values, rows), axis=0)
        raw = np.take(raw, np.searchsorted(col_values, cols), axis=1)
        return _to_float(raw)


def _to_float(raw: np.ndarray) -> np.ndarray:
    # The same arithmetic as imaging.read: astype, then divide by the scale in float32.
    if raw.dtype.kind == "f":  # modes I and F: raw values, float64 and float32
        return np.array(raw)
    scale = _SCALE.get(raw.dtype)
    pixels = raw.astype(np.float32)
    if scale is not None:
        pixels /= np.float32(scale)
    return pixels


class TiffReader(RegionReader):
    """A TIFF or BigTIFF read by ``tifffile`` a tile (or strip) at a time.

    A region reads and decodes only the segments it touches, with the page's
    own decoder (any compression tifffile and imagecodecs know).
    """

    def __init__(self, path: str):
        # Absolute: a Dask worker reopens the file from its own working folder.
        self.path = os.path.abspath(path)
        self._tif = None
        with _tifffile().TiffFile(path) as tif:
            described = _describe_tiff(tif, path)
        self.shape, self.mode, self.info, self.compression, self.tile = described

    def _page(self):
        if self._tif is None:
            self._tif = _tifffile().TiffFile(self.path)
        return self._tif.pages[0]

    def _region(self, rows: slice, cols: slice) -> np.ndarray:
        page = self._page()
        h, w, c = self.shape
        sh, sw = (page.tilelength, page.tilewidth) if page.is_tiled else (page.rowsperstrip, w)
        sh = min(sh, h)
        across = -(-w // sw)
        out = np.empty((rows.stop - rows.start, cols.stop - cols.start, c), page.dtype)
        wanted = [ty * across + tx for ty in range(rows.start // sh, (rows.stop - 1) // sh + 1)
                  for tx in range(cols.start // sw, (cols.stop - 1) // sw + 1)]
        fh = self._tif.filehandle
        segments = fh.read_segments([page.dataoffsets[i] for i in wanted],
                                    [page.databytecounts[i] for i in wanted], indices=wanted,
                                    sort=True, lock=fh.lock)
        for data, index in segments:
            segment, (_, _, y, x, _), shape = page.decode(data, index,
                                                          jpegtables=page.jpegtables)
            _, sy, sx, _ = shape
            if segment is None:  # an empty tile: zeros, as tifffile reads it
                segment = np.zeros((1, sy, sx, c), page.dtype)
            segment = segment.reshape(sy, sx, c)
            y0, y1 = max(y, rows.start), min(y + sy, rows.stop, h)
            x0, x1 = max(x, cols.start), min(x + sx, cols.stop, w)
            out[y0 - rows.start:y1 - rows.start, x0 - cols.start:x1 - cols.start] = \
                segment[y0 - y:y1 - y, x0 - x:x1 - x]
        return out

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
        self._tif = None

    def __getstate__(self):
        return {**self.__dict__, "_tif": None}


class ArrayReader(RegionReader):
    """An image already decoded (or a zarr array), kept as integers where it can be."""

    def __init__(self, array, mode: str, info: dict | None = None):
        self._array = array
        self.shape = (int(array.shape[0]), int(array.shape[1]), int(array.shape[2]))
        self.mode, self.info = mode, info or {}

    def _region(self, rows: slice, cols: slice) -> np.ndarray:
        return np.asarray(self._array[rows, cols])


class ZarrReader(ArrayReader):
    """A zarr array on disk, of shape (H, W) or (H, W, C), 8 or 16 bits."""

    def __init__(self, path: str):
        import zarr

        self.path = os.path.abspath(path)  # reopened where unpickled (see TiffReader)
        array = zarr.open_array(path, mode="r")
        dtype = np.dtype(array.dtype)
        channels = array.shape[2] if array.ndim == 3 else 1
        mode = _mode_for(dtype, channels)
        if array.ndim not in (2, 3) or mode is None:
            msg = (f"{path}: zarr array of shape {array.shape} and type {dtype}: convtool reads "
                   "(H, W) or (H, W, C) arrays of 8 bits (1-4 channels) or 16 bits (1 channel)")
            raise ImageReadError(msg)
        super().__init__(array, mode)
        self.shape = (int(array.shape[0]), int(array.shape[1]), channels)

    def _region(self, rows: slice, cols: slice) -> np.ndarray:
        block = np.asarray(self._array[rows, cols])
        return block.reshape(block.shape[0], block.shape[1], self.shape[2])

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])


def _mode_for(dtype: np.dtype, samples: int) -> str | None:
    if dtype == np.uint8:
        return _MODES_BY_SAMPLES.get(samples)
    if dtype == np.uint16 and samples == 1:
        return "I;16"
    return None


def _tifffile():
    try:
        import tifffile
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        from convtool.scale import MISSING_EXTRA

        raise UsageError(MISSING_EXTRA) from exc
    return tifffile


def _describe_tiff(tif, path: str):
    """(shape, mode, info, compression, tile) of a TIFF that can be read by region, else raise."""
    tifffile = _tifffile()
    series = tif.series[0]
    page = series.pages[0]
    samples = page.samplesperpixel
    extras = tuple(page.extrasamples)
    photometric = page.photometric
    ok = (
        len(tif.series) == 1 and len(series.pages) == 1 and series.axes in ("YX", "YXS")
        and page.planarconfig == tifffile.PLANARCONFIG.CONTIG
        and page.tags.valueof(274, 1) == 1  # orientation: rows top to bottom, as stored
        and photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB)
        and all(e == tifffile.EXTRASAMPLE.UNASSALPHA for e in extras) and len(extras) <= 1
        and (photometric == tifffile.PHOTOMETRIC.RGB) == (samples - len(extras) == 3)
    )
    mode = _mode_for(np.dtype(page.dtype), samples) if ok else None
    if mode is None:
        msg = f"{path}: this TIFF cannot be read by region"
        raise _NotRegional(msg)
    info = {}
    icc = page.tags.get(34675)
    if icc is not None:
        info["icc_profile"] = bytes(icc.value)
    tile = (page.tilelength, page.tilewidth) if page.is_tiled else None
    compression = page.compression.name.lower()  # e.g. "none", "adobe_deflate", "jpeg"
    return (page.imagelength, page.imagewidth, samples), mode, info, compression, tile


class _NotRegional(Exception):
    """The file is readable, but only whole (decode once, then stream)."""


def open_reader(path, *, max_pixels: int | None = None) -> RegionReader:
    """A :class:`RegionReader` for the image at ``path``.

    ``max_pixels``: refuse images with more pixels. None means no limit for the
    region readers (a TIFF or zarr is decoded a region at a time, so its size
    only costs disk and time) and Pillow's limit for an image decoded whole.
    """
    path = os.fspath(path)
    reader = _region_reader(path)
    if reader is None:
        from convtool import imaging

        image = imaging.read_image(path, max_pixels=max_pixels)
        if image.extra_frames:
            msg = f"{path}: has {1 + len(image.extra_frames)} frames; tiled filtering takes one"
            raise UsageError(msg)
        reader = ArrayReader(_compact(image.pixels, image.mode), image.mode, image.info)
        reader.format = image.format
        return reader
    h, w = reader.shape[:2]
    if max_pixels is not None and h * w > max_pixels:
        msg = (f"{path}: {w}x{h} is {w * h:,} pixels, more than the limit of {max_pixels:,} "
               f"(--max-pixels); if you trust the file, raise the limit with --max-pixels {w * h}")
        raise ImageReadError(msg)
    return reader


def _region_reader(path: str) -> RegionReader | None:
    if os.path.isdir(path):
        try:
            return ZarrReader(path)
        except (ImportError, ValueError, FileNotFoundError, TypeError) as exc:
            msg = f"{path}: a folder that is not a zarr array ({exc})"
            raise ImageReadError(msg) from exc
    with open(path, "rb") as f:
        head = f.read(4)
    if not is_tiff(head):
        return None
    try:
        return TiffReader(path)
    except _NotRegional:
        return None
    except Exception as exc:  # tifffile raises many types for damaged files
        msg = f"{path}: cannot read this TIFF ({exc})"
        raise ImageReadError(msg) from exc


def _compact(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Integers again where :mod:`convtool.imaging` scaled them (exactly: x * scale rounds back)."""
    from convtool.imaging.model import FULL_SCALE

    scale = FULL_SCALE.get(mode)
    if scale is None:
        return pixels
    dtype = np.uint8 if scale == 255.0 else np.uint16
    out = np.empty(pixels.shape, dtype)
    for start in range(0, pixels.shape[0], 256):
        out[start:start + 256] = np.rint(pixels[start:start + 256] * np.float32(scale))
    return out


def probe(path: str) -> tuple[tuple[int, int, int], bool, str] | None:
    """``((H, W, C), regional, mode)`` of an image from its header, or None if it cannot be told.

    ``regional`` is True when the image can be read by region (a TIFF or zarr
    array :func:`open_reader` reads lazily), so that its size costs disk and
    time, never more memory than the tiles take. ``mode`` is Pillow's.
    """
    from convtool.imaging._codecs import quiet_stderr

    # Only a look at the header: what libtiff or tifffile say of a damaged file is for the
    # reader to report, in one line, if the file is then read at all.
    with quiet_stderr():
        try:
            reader = _region_reader(path)
        except (ImageReadError, OSError):
            return None
        if reader is not None:
            reader.close()
            return reader.shape, True, reader.mode
        return _pillow_probe(path)


def _pillow_probe(path: str):
    from PIL import Image as PILImage

    from convtool.imaging.model import FULL_SCALE

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(path) as im:
                bands = len(im.getbands())
                if im.mode not in FULL_SCALE and im.mode != "P":
                    return None
                shape = (im.size[1], im.size[0], 3 if im.mode == "P" else bands)
                return shape, False, im.mode
    except Exception:  # not an image: the in-memory reader says why
        return None
