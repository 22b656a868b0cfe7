"""A decoded Pillow frame's samples as numpy arrays, in the layout the pipeline takes.

8-bit frames can stay uint8 (a quarter of float32's memory, for the banded
filter); every other mode becomes float32 on the 0..1 scale of its bit depth
(``I``, 32-bit integers, float64 as stored).
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

from convtool.imaging.model import EIGHT_BIT_MODES, FULL_SCALE


def uint8_from_pil(im: PILImage.Image) -> np.ndarray:
    """An 8-bit image's pixels, shape (H, W, C), copied out a band of rows at a time.

    ``np.asarray(im)`` goes through ``tobytes()``, which holds the whole
    image twice more (its pieces and their join) next to Pillow's own copy.
    """
    width, height = im.size
    first = np.asarray(im.crop((0, 0, width, min(height, 1))))
    channels = 1 if first.ndim == 2 else first.shape[2]
    out = np.empty((height, width, channels), dtype=np.uint8)
    step = max(1, (4 << 20) // max(1, width * channels))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        out[top:bottom] = np.asarray(im.crop((0, top, width, bottom))).reshape(
            bottom - top, width, channels)
    return out


def array_from_pil(im: PILImage.Image, mode: str, integers: bool = False) -> np.ndarray:
    """A loaded frame of ``mode`` as (H, W, C) samples: float 0..1, or uint8 with ``integers``."""
    if integers and mode in EIGHT_BIT_MODES:
        return uint8_from_pil(im)
    raw = np.asarray(im)
    if raw.ndim == 2:
        raw = raw[:, :, np.newaxis]
    if mode == "I":
        return raw.astype(np.float64)
    return unit_scale(raw, mode)


def unit_scale(raw: np.ndarray, mode: str) -> np.ndarray:
    """Stored integer samples as float32 on the 0..1 scale of ``mode``."""
    pixels = raw.astype(np.float32)
    del raw
    scale = FULL_SCALE[mode]
    if scale is not None:
        pixels /= np.float32(scale)
    return pixels
