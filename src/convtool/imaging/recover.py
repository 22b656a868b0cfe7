"""Second chances for files Pillow cannot identify: repair what libpng would, say what is wrong.

* A PNG whose only fault is a bad checksum on an *ancillary* (optional) chunk
  is read as libpng reads it: without that chunk. Pillow refuses the whole
  file and calls it "not an image".
* An AVIF larger than libavif opens is named as such (its size read from the
  ``ispe`` box), and checked against the pixel limit, instead of being called
  "not an image".
"""

from __future__ import annotations

import io
import os
import struct
import zlib

from convtool.errors import ImageReadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ISO base media brands of AVIF files (still and sequence).
_AVIF_BRANDS = (b"avif", b"avis")


def recover(source, name: str, check_size):
    """A repaired copy of ``source`` to decode instead, after Pillow failed to identify it.

    ``check_size(width, height)`` raises when the size is over the pixel
    limit. Raises :class:`ImageReadError` with a truer message when the file is
    recognised but cannot be read; returns None when there is nothing to add.
    """
    data = _read_all(source)
    if data is not None and data.startswith(PNG_SIGNATURE):
        repaired = drop_bad_ancillary_chunks(data)
        if repaired is not None:
            return io.BytesIO(repaired)
    if data is not None and data[4:8] == b"ftyp" and data[8:12] in _AVIF_BRANDS:
        size = avif_size(data)
        if size is not None:
            check_size(*size)
            msg = (f"{name}: a {size[0]}x{size[1]} AVIF image that the AVIF decoder (libavif) "
                   "does not open; it may be larger than libavif allows, or damaged")
            raise ImageReadError(msg)
    return None


def _read_all(source) -> bytes | None:
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                return f.read()
        source.seek(0)
        return source.read()
    except (OSError, AttributeError):
        return None


def drop_bad_ancillary_chunks(data: bytes) -> bytes | None:
    """``data`` without its ancillary chunks whose CRC is wrong; None if there are none.

    A critical chunk (IHDR, PLTE, IDAT, IEND: upper-case first letter) with a
    bad CRC is damage, and is left for the decoder to refuse.
    """
    out, pos, dropped = [data[:8]], 8, False
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            break
        crc = struct.unpack(">I", data[end - 4:end])[0]
        if zlib.crc32(data[pos + 4:end - 4]) != crc and kind[0] & 0x20:
            dropped = True
        else:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    if not dropped:
        return None
    out.append(data[pos:])
    return b"".join(out)


def avif_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first ``ispe`` box of an AVIF file's first 64 KB, or None."""
    at = data.find(b"ispe", 0, 1 << 16)
    if at < 4 or len(data) < at + 16:
        return None
    width, height = struct.unpack(">II", data[at + 8:at + 16])
    return (width, height) if width and height else None
