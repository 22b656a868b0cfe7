"""A fast PNG writer for single 8-bit L/LA/RGB/RGBA and 16-bit greyscale images.

Pillow's PNG encoder is one thread of zlib with an adaptive filter per row:
about 45% of a 12 MP ``convtool blur``. This writer keeps Pillow for every
chunk but the pixels and makes the pixel data (IDAT) faster:

* every row gets the PNG ``Up`` filter (the row minus the row above, byte by
  byte): one vectorised subtraction, and on photographs as small a file as
  Pillow's adaptive choice (see ``benchmarks/README.md``);
* the filtered rows are deflated in independent pieces on all cores, as pigz
  does: each piece is raw deflate that ends on a full flush (byte-aligned, no
  back-references across it), so the pieces concatenate into one valid zlib
  stream, closed by the Adler-32 of all the data, combined from the pieces'
  own. zlib releases the GIL, so threads run the pieces in parallel, and each
  piece is written as it is done: the filtered copy of the whole image never
  exists. With the ``fast`` extra the pieces go through zlib-ng (the
  ``zlib-ng`` package, zlib's API): at level 3 a 12 MP photo deflates in
  0.14 s instead of 0.32 s on two cores, and comes out 9% smaller
  (``benchmarks/README.md``).

The other chunks (``iCCP``, ``eXIf``, ``pHYs``, ``tEXt``/``iTXt``, ...) come
from Pillow itself: it saves a 1x1 image of the same mode with the same
options, and this writer copies every chunk of that file but the image size
and the pixel data. So metadata is exactly what Pillow writes, and anything
this writer does not know (palettes, animation, other modes) goes to Pillow
whole (:func:`can_write` says False).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image as PILImage

# Pillow mode -> (bit depth, PNG colour type, bytes per pixel).
_LAYOUT = {"L": (8, 0, 1), "LA": (8, 4, 2), "RGB": (8, 2, 3), "RGBA": (8, 6, 4),
           "I;16": (16, 0, 2)}
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_NONE, _FILTER_UP = 0, 2
# Bytes of filtered data a zlib piece holds: big enough that the full flush
# between pieces costs nothing measurable, small enough to spread over cores.
_PIECE_BYTES = 4 << 20
_ADLER_BASE = 65521


def can_write(mode: str, frames: int) -> bool:
    """True when :func:`write_png` can write an image of ``mode`` with ``frames`` frames."""
    return mode in _LAYOUT and frames == 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _chunks(png: bytes):
    """(type, data) of every chunk of a PNG file's bytes."""
    pos = len(_SIGNATURE)
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        kind = png[pos + 4:pos + 8]
        yield kind, png[pos + 8:pos + 8 + length]
        pos += 12 + length


def _template(mode: str, params: dict) -> tuple[list, list]:
    """Pillow's chunks for a 1x1 image saved with ``params``: (before IDAT, after IDAT)."""
    buffer = io.BytesIO()
    options = {k: v for k, v in params.items() if k != "compress_level"}
    PILImage.new(mode, (1, 1)).save(buffer, format="PNG", compress_level=0, **options)
    before, after, seen_idat = [], [], False
    for kind, data in _chunks(buffer.getvalue()):
        if kind == b"IDAT":
            seen_idat = True
        elif kind != b"IEND":
            (after if seen_idat else before).append((kind, data))
    return before, after


def _rows(data: np.ndarray, mode: str) -> np.ndarray:
    """The image as PNG scanline bytes, shape (H, W * bytes per pixel), uint8."""
    if mode == "I;16":
        data = data.astype(">u2", copy=False)
    height = data.shape[0]
    return np.ascontiguousarray(data).view(np.uint8).reshape(height, -1)


def _filtered(rows: np.ndarray, above: np.ndarray | None, kind: int) -> np.ndarray:
    """Scanlines with their filter-type byte in front, shape (h, 1 + row bytes)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = kind
    if kind == _FILTER_NONE:
        out[:, 1:] = rows
        return out
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])  # uint8 arithmetic wraps mod 256
    if above is None:
        out[0, 1:] = rows[0]
    else:
        np.subtract(rows[0], above, out=out[0, 1:])
    return out


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of A + B from Adler-32 of A, of B and the length of B (as zlib's)."""
    rem = second_length % _ADLER_BASE
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + rem * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a


def _deflater():
    """zlib-ng's zlib module when installed (the ``fast`` extra), else zlib's."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return zlib
    return zlib_ng


def _deflate_pieces(rows: np.ndarray, level: int, kind: int, threads: int, module=None):
    """Yield the zlib stream of the filtered rows in order, pieces deflated in threads."""
    module = module or _deflater()
    step = max(1, _PIECE_BYTES // (rows.shape[1] + 1))
    starts = range(0, rows.shape[0], step)

    def piece(start: int) -> tuple[bytes, int, int]:
        above = rows[start - 1] if start else None
        raw = _filtered(rows[start:start + step], above, kind)
        last = start + step >= rows.shape[0]
        packer = module.compressobj(level, module.DEFLATED, -15)
        body = packer.compress(raw) + packer.flush(module.Z_FINISH if last
                                                   else module.Z_FULL_FLUSH)
        return body, zlib.adler32(raw), raw.size

    yield module.compress(b"", level)[:2]  # the zlib header
    adler = 1
    with contextlib.ExitStack() as stack:
        if threads > 1 and len(starts) > 1:
            pool = stack.enter_context(ThreadPoolExecutor(min(threads, len(starts))))
            done = pool.map(piece, starts)  # runs ahead, hands the pieces back in order
        else:  # one piece (most images under ~1 MP): no thread to start
            done = map(piece, starts)
        for body, piece_adler, size in done:
            adler = _adler32_combine(adler, piece_adler, size)
            yield body
    yield struct.pack(">I", adler)


def write_png(fp, data: np.ndarray, mode: str, params: dict, *,
              threads: int | None = None, deflater=None) -> None:
    """Write ``data`` (shape (H, W[, C]), uint8, or ``<u2`` for ``I;16``) as a PNG to ``fp``.

    ``params`` are the keyword arguments Pillow's PNG save would get
    (``compress_level``, ``icc_profile``, ``exif``, ``dpi``, ``pnginfo``, ...);
    the metadata chunks are Pillow's own. ``threads``: zlib pieces deflated at
    once (default: the number of cores); ``deflater``: the module with zlib's
    API that deflates (default: zlib-ng's when installed, else zlib).
    """
    depth, colour_type, _ = _LAYOUT[mode]
    height, width = data.shape[:2]
    level = params.get("compress_level", 6)
    level = 6 if level is None or level < 0 else level
    before, after = _template(mode, params)
    if not before or before[0][0] != b"IHDR" or before[0][1][8:10] != bytes((depth, colour_type)):
        msg = f"Pillow wrote an unexpected PNG header for mode {mode}"
        raise ValueError(msg)
    rows = _rows(data, mode)
    kind = _FILTER_NONE if level == 0 else _FILTER_UP
    fp.write(_SIGNATURE)
    fp.write(_chunk(b"IHDR", struct.pack(">II", width, height) + before[0][1][8:]))
    for chunk_kind, chunk_data in before[1:]:
        fp.write(_chunk(chunk_kind, chunk_data))
    pieces = _deflate_pieces(rows, level, kind, threads or os.cpu_count() or 1, deflater)
    for body in pieces:
        if body:
            fp.write(_chunk(b"IDAT", body))
    for chunk_kind, chunk_data in after:
        fp.write(_chunk(chunk_kind, chunk_data))
    fp.write(_chunk(b"IEND", b""))
