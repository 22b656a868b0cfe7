"""Conversions asked for when writing: flatten alpha (``--background``), 8 bits (``--depth 8``).

Without them an output format that cannot hold the image is refused (JPEG has
no alpha, 8-bit formats no 16-bit colour): convtool never drops alpha or low
bits on its own. With them, the loss is the user's explicit choice.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from convtool.errors import UsageError
from convtool.imaging.colour import row_chunks
from convtool.imaging.model import Image, SaveOptions

# Each mode with alpha -> (mode without alpha for a grey background, for a colour one).
_FLATTENED = {"LA": ("L", "RGB"), "RGBA": ("RGB", "RGB"),
              "LA;16": ("I;16", "RGB;16"), "RGBA;16": ("RGB;16", "RGB;16")}
# Each mode deeper than 8 bits -> its 8-bit mode. Float values are taken on the 0..1 scale.
_EIGHT_BIT = {"RGB;16": "RGB", "RGBA;16": "RGBA", "LA;16": "LA", "I;16": "L",
              "RGB;F": "RGB", "F": "L", "CMYK;16": "CMYK"}


def parse_colour(text: str) -> tuple[float, float, float]:
    """A colour name (``white``, ``black``, ``red``...) or ``#rrggbb`` as RGB on the 0..1 scale.

    Examples
    --------
    >>> parse_colour("white"), parse_colour("#ff0000")
    ((1.0, 1.0, 1.0), (1.0, 0.0, 0.0))
    """
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(str(text).strip())
    except ValueError:
        msg = (f"background {text!r} is not a colour: give a colour name (white, black, "
               "gray...) or #rrggbb")
        raise UsageError(msg, params=("background",)) from None
    return tuple(v / 255.0 for v in rgb[:3])


def flatten(image: Image, colour: tuple[float, float, float]) -> Image:
    """One frame composited over ``colour``, without its alpha channel.

    Greyscale with alpha stays greyscale on a grey background and becomes RGB
    on a coloured one. Colour is blended as stored (sRGB values), as image
    editors flatten by default.
    """
    if not image.has_alpha:
        return image
    grey = colour[0] == colour[1] == colour[2]
    mode = _FLATTENED[image.mode][0 if grey else 1]
    src = image.pixels
    height, width = src.shape[:2]
    out_channels = 1 if mode in ("L", "I;16") else 3
    background = np.asarray(colour[:out_channels], dtype=np.float32)
    out = np.empty((height, width, out_channels), dtype=np.float32)
    for rows in row_chunks(height):
        alpha = np.clip(src[rows, :, -1:], 0.0, 1.0)
        colours = src[rows, :, :-1]  # one channel for LA: broadcast to RGB when needed
        out[rows] = colours * alpha + background * (1.0 - alpha)
    return replace(image, pixels=out, mode=mode, extra_frames=())


def reduce_depth(image: Image) -> Image:
    """One frame relabelled to 8 bits per channel (rounding happens when it is written).

    Float images (``F``, ``RGB;F``) are taken on the 0..1 scale and clipped.
    32-bit integer (``I``) images are left alone: their values have no 8-bit scale.
    """
    mode = _EIGHT_BIT.get(image.mode)
    if mode is None:
        return image
    return replace(image, mode=mode, extra_frames=())


def prepare(image: Image, options: SaveOptions) -> Image:
    """``image`` (every frame) flattened and reduced as ``options`` ask."""
    if options.background is None and options.depth is None:
        return image
    colour = parse_colour(options.background) if options.background is not None else None
    frames = []
    for frame in image.frames:
        if colour is not None:
            frame = flatten(frame, colour)
        if options.depth == 8:
            frame = reduce_depth(frame)
        frames.append(frame)
    return replace(frames[0], extra_frames=tuple(frames[1:]))
