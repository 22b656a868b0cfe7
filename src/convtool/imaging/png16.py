"""16-bit colour PNG (RGB, RGBA, grey + alpha at 16 bits per channel) through libpng.

Pillow opens these files (and reads their metadata) but decodes the pixels to
8 bits, and cannot write them. The pixels go through ``imagecodecs`` (libpng)
instead; the metadata chunks are still Pillow's, so they are the same as for an
8-bit PNG. See the README ("Image fidelity") for why libpng and not libspng or
pypng.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from convtool.imaging._codecs import quiet_stderr, require

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that describe the pixels; every other chunk Pillow writes is metadata.
_LAYOUT_CHUNKS = (b"IHDR", b"PLTE", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT")


def decode(data: bytes, name: str) -> np.ndarray:
    """The pixels of a 16-bit PNG as uint16, shape (H, W, C)."""
    _, imagecodecs = require("16-bit colour PNG", name)
    with quiet_stderr():  # libpng warns about interlaced files on stderr, and still decodes
        pixels = imagecodecs.png_decode(data)
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    return pixels


def chunks(data: bytes):
    """(type, whole chunk bytes) of every chunk of a PNG file."""
    pos = len(_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        yield data[pos + 4:pos + 8], data[pos:end]
        pos = end


def text_chunks(data: bytes) -> dict[str, str]:
    """The text of a PNG's tEXt, zTXt and iTXt chunks, as Pillow's ``im.text`` gives it.

    Pillow finds text after the pixels only by decoding them (to 8 bits, for
    nothing here); reading the chunks costs nothing.
    """
    text = {}
    for kind, chunk in chunks(data):
        body = chunk[8:-4]
        try:
            if kind == b"tEXt":
                key, value = body.split(b"\0", 1)
                text[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"zTXt":
                key, rest = body.split(b"\0", 1)
                text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
            elif kind == b"iTXt":
                key, rest = body.split(b"\0", 1)
                compressed, rest = rest[0], rest[2:]
                _language, _translated, value = rest.split(b"\0", 2)
                value = zlib.decompress(value) if compressed else value
                text[key.decode("latin-1")] = value.decode("utf-8")
        except (ValueError, IndexError, zlib.error):
            continue  # a damaged optional chunk: Pillow skips it too
        if kind == b"IEND":
            break
    return text


def metadata_chunks(params: dict) -> bytes:
    """The metadata chunks (iCCP, pHYs, eXIf, text...) Pillow writes for these save params."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("L", (1, 1)).save(buffer, format="PNG", **params)
    return b"".join(chunk for kind, chunk in chunks(buffer.getvalue())
                    if kind not in _LAYOUT_CHUNKS)


def encode(pixels: np.ndarray, params: dict, name: str) -> bytes:
    """A PNG file of ``pixels`` (uint16, shape (H, W, C)) with Pillow's metadata ``params``.

    ``params`` are Pillow's PNG save parameters (``compress_level``,
    ``icc_profile``, ``exif``, ``dpi``, ``pnginfo``, ...).
    """
    _, imagecodecs = require("16-bit colour PNG", name, reading=False)
    params = dict(params)
    level = params.pop("compress_level", 6)
    data = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    with quiet_stderr():
        encoded = bytes(imagecodecs.png_encode(np.ascontiguousarray(data), level=level))
    # libpng writes IHDR, IDAT, IEND: the metadata goes right after IHDR (before IDAT,
    # where iCCP and pHYs must be).
    ihdr_end = len(_SIGNATURE) + 12 + 13
    return encoded[:ihdr_end] + metadata_chunks(params) + encoded[ihdr_end:]

