"""Every use of Pillow's private API, fenced in one place.

Pillow does not offer these as public API; ``tests/test_pillow_compat.py``
checks each of them against the installed Pillow and fails with a message
naming the attribute and the Pillow version when upstream changes.

=====================  ===================================================
what                   why
=====================  ===================================================
``im._tile_size``      a TIFF's stored (not rotated) size, Pillow >= 11
``im._size``           set to it, so Pillow does not rotate while loading
``im.tile[0].args``    the raw mode a frame is decoded with (16-bit colour)
``im.tile[0]``         a PPM's maximum value and where its pixels start
                       (Pillow reduces 16-bit PPM colour to 8 bits)
``im.png.im_text``     a PNG's text chunks read at open, without decoding
                       the pixels (``im.text`` decodes them)
=====================  ===================================================
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Raw modes of 16 bits per pixel (5-6-5, 5-5-5), not per channel.
_PACKED_16 = ("RGB;16", "BGR;16", "RGB;15", "BGR;15", "RGBA;15", "BGRA;15", "RGBA;16",
              "BGRA;16", "RGB;4B", "RGBA;4B")
#: Private attributes of ``PIL.TiffImagePlugin.TiffImageFile`` read or written here.
TIFF_PRIVATE_ATTRIBUTES = ("_tile_size", "_size")
#: EXIF / TIFF tag number of the orientation.
ORIENTATION = 0x0112


def rawmode(im: PILImage.Image) -> str:
    """The raw mode of the first tile of an opened, not yet loaded image ("" if unknown)."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def sixteen_bits_per_channel(raw: str) -> bool:
    """True for a raw mode with 16 bits in each channel ("RGB;16B", "LA;16L", "I;16B"...).

    Not for the 16-bit *pixels* of RGB565 and RGB555 ("BGR;16", "RGB;15"):
    Pillow widens those to 8 bits per channel without losing anything.
    """
    return re.search(r";16[BLN]?S?$", raw) is not None and raw not in _PACKED_16


def unsigned_16_bit_grey(raw: str) -> bool:
    """True for a raw mode of unsigned 16-bit greyscale that Pillow opens as mode ``I``."""
    return raw in ("I;16", "I;16B", "I;16L", "I;16N")


def keep_tiff_layout(im: PILImage.Image) -> None:
    """Stop Pillow from turning a TIFF upright while loading it.

    Pillow (13.0) swaps a TIFF's size for orientations 5-8 when opening it and
    rotates the pixels when loading, which scrambles them. Every other format
    keeps its stored layout and the tag, and so should TIFF: we take the tag
    out of Pillow's sight before loading (and put it back in ``info``).
    """
    tile_size = getattr(im, "_tile_size", None)
    if tile_size is None:  # a Pillow without this: leave it to Pillow
        return
    im.getexif().pop(ORIENTATION, None)
    im.tag_v2.pop(ORIENTATION, None)
    im._size = tile_size


def ppm_layout(im: PILImage.Image) -> tuple[int, int, bool] | None:
    """(maximum value, offset of the pixels, plain text?) of an opened PPM, or None.

    Pillow's PPM decoder scales colour with a maximum value above 255 down to
    8 bits; convtool reads such files itself from where Pillow found the pixels.
    """
    if im.format != "PPM" or not im.tile:
        return None
    tile = im.tile[0]
    args = tile.args
    if not (isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], int)):
        return None
    return args[1], tile.offset, tile.codec_name == "ppm_plain"


def png_header_text(im: PILImage.Image) -> dict | None:
    """The text chunks before a PNG's pixel data, read at open, or None if unknown.

    Pillow's public ``im.text`` decodes the whole image first (text may follow
    the pixel data); a caller that decodes the pixels itself and has checked
    that no chunk follows them takes the header's text from here.
    """
    text = getattr(getattr(im, "png", None), "im_text", None)
    return dict(text) if isinstance(text, dict) else None
