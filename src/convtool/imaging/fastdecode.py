"""The pixels of plain 8-bit PNG and JPEG files, decoded straight into numpy.

Pillow decodes into its own image (four bytes a pixel for RGB), which is then
copied into numpy: for a 12 MP photo that is 48 MB beside the 36 MB array,
and a PNG takes ~0.37 s where libspng through ``imagecodecs`` takes ~0.19 s (a
JPEG 0.08 s against 0.04 s, libjpeg-turbo both; ``benchmarks/README.md``).
So when ``imagecodecs`` is installed (the ``fast`` extra), the common files
go through it:

* PNG: greyscale, RGB, RGBA with 8 bits per channel, one frame,
  no colour key (``tRNS``) and no chunk after the pixel data but ``IEND``
  (text there is found only by decoding with Pillow);
* JPEG: greyscale and RGB (YCbCr) files whose last scan ends with an EOI
  marker (libjpeg-turbo through ``imagecodecs`` decodes a file cut short
  with a warning only; Pillow refuses it).

Everything else, and any file this decoder fails on, goes to Pillow, whose
error messages convtool reports. Pillow still opens every file: its header
parsing gives the metadata, so only the pixel decoding changes. The result is
the same pixels, sample for sample (``tests/test_fastdecode.py`` checks the
public corpora against Pillow).
"""

from __future__ import annotations

import os
import struct

import numpy as np
from PIL import Image as PILImage

from convtool.imaging._pillow_compat import png_header_text, rawmode
from convtool.imaging.jpeg import final_eoi

_PNG_MODES = {"L": 1, "RGB": 3, "RGBA": 4}  # imagecodecs' libspng has no grey + alpha
_JPEG_MODES = {"L": 1, "RGB": 3}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _codec(name: str):
    try:
        import imagecodecs
    except ImportError:
        return None
    return getattr(imagecodecs, name, None)


def file_bytes(source) -> bytes | None:
    """Every byte of ``source``, a path or a seekable binary file (read from its start)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return f.read()
    if hasattr(source, "seek") and hasattr(source, "read"):
        source.seek(0)
        return source.read()
    return None


def _only_iend_after_pixels(data: bytes) -> bool:
    """True when nothing but IEND follows a PNG's last IDAT chunk."""
    pos, after_idat = len(_PNG_SIGNATURE), False
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            after_idat = True
        elif kind == b"IEND":
            return True
        elif after_idat:
            return False
        pos += 12 + length
    return False


def _plain_png(im: PILImage.Image) -> bool:
    return (im.mode in _PNG_MODES and rawmode(im) == im.mode
            and "transparency" not in im.info and not getattr(im, "is_animated", False))


def _plain_jpeg(im: PILImage.Image) -> bool:
    return im.mode in _JPEG_MODES and rawmode(im) in ("L", "RGB", "YCbCr")


def decode(im: PILImage.Image, source) -> tuple[np.ndarray, dict | None] | None:
    """(pixels, PNG header text) of an opened, not yet loaded image, or None.

    ``pixels`` has shape (H, W, C), uint8; the text is None for a JPEG. None
    when the file is not one this module decodes (see the module's notes), or
    ``imagecodecs`` is not installed, or it fails: the caller then loads ``im``
    with Pillow.
    """
    if im.format == "PNG" and _plain_png(im):
        channels, codec, text = _PNG_MODES[im.mode], _codec("spng_decode"), png_header_text(im)
        if text is None:
            return None
    elif im.format == "JPEG" and _plain_jpeg(im):
        channels, codec, text = _JPEG_MODES[im.mode], _codec("jpeg8_decode"), None
    else:
        return None
    if codec is None:
        return None
    try:
        data = file_bytes(source)
    except (OSError, ValueError):  # a stream that cannot seek: Pillow reads it as it can
        return None
    if data is None or not (_only_iend_after_pixels(data) if im.format == "PNG"
                            else final_eoi(data) is not None):  # a JPEG cut short: Pillow says
        return None
    try:
        pixels = codec(data)
    except Exception:  # damaged or unusual: Pillow decodes it, or says what is wrong
        return None
    del data
    width, height = im.size
    if pixels.dtype != np.uint8 or pixels.shape[:2] != (height, width):
        return None
    pixels = pixels.reshape(height, width, -1)
    if pixels.shape[2] != channels:
        return None
    return pixels, text
