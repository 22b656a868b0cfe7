"""Colour-key transparency (a PNG ``tRNS`` chunk on a greyscale or RGB image) as alpha.

Such an image marks one grey level or one RGB colour as fully transparent.
Filtering must see it as alpha (or the key colour bleeds into its
neighbours and the transparent areas turn opaque), so it becomes an alpha
channel on reading: ``L`` -> ``LA``, ``RGB`` -> ``RGBA``, 16-bit grey ->
``LA;16``. Palette images carry theirs in the palette, which Pillow converts.
"""

from __future__ import annotations

import numpy as np

from convtool.imaging._pillow_compat import rawmode
from convtool.imaging.model import FULL_SCALE

#: The mode a colour-keyed image becomes, with its alpha channel.
WITH_ALPHA = {"L": "LA", "RGB": "RGBA", "I;16": "LA;16"}
# Largest stored value of low-depth greyscale raw modes (the key is stored at that depth).
_LOW_DEPTH_MAX = {"1": 1, "L;1": 1, "L;2": 3, "L;4": 15}


def colour_key(im) -> tuple[float, ...] | None:
    """The transparent colour of an opened, not yet loaded frame, on the 0..1 scale, or None.

    The key is stored at the file's own depth (a 4-bit grey key of 15 is
    white); Pillow scales the pixels to 8 bits but not the key.
    """
    key = im.info.get("transparency")
    if key is None or isinstance(key, bytes) or im.mode in ("P", "PA"):
        return None
    values = key if isinstance(key, tuple) else (key,)
    raw = rawmode(im)
    if raw in _LOW_DEPTH_MAX:
        top = _LOW_DEPTH_MAX[raw]
    elif im.mode.startswith("I;16"):
        top = 65535
    elif im.mode in ("1", "L", "RGB"):
        top = 255
    else:
        return None
    return tuple(min(v, top) / top for v in values)


def add_key_alpha(pixels: np.ndarray, mode: str, key: tuple[float, ...]):
    """``(pixels, mode)`` with an alpha channel: 0 where every channel equals ``key``.

    Returns the input unchanged when the mode has no alpha form here.
    """
    target = WITH_ALPHA.get(mode)
    if target is None or target not in FULL_SCALE or len(key) != pixels.shape[2]:
        return pixels, mode
    tolerance = 0.5 / FULL_SCALE[mode]
    keyed = np.all(np.abs(pixels - np.asarray(key, dtype=pixels.dtype)) < tolerance, axis=2)
    alpha = np.where(keyed, 0.0, 1.0).astype(pixels.dtype)[..., np.newaxis]
    return np.concatenate([pixels, alpha], axis=2), target
