"""GIF output: 256 colours, one transparent index, and frames that replace each other.

GIF has no partial transparency. Alpha is thresholded at 50%, as ImageMagick
does: a pixel at least half opaque is drawn opaque, the rest are the
transparent index (so a blurred edge does not become an opaque fringe as
wide as the kernel). Every frame convtool writes is a whole picture, so each
is disposed of (restored to the background) before the next is drawn;
otherwise earlier frames would show through the later ones' transparency.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage

#: Palette index of transparent pixels in the frames convtool writes.
TRANSPARENT_INDEX = 255
#: Alpha at or above this (of 255) is drawn opaque; below it, transparent.
ALPHA_THRESHOLD = 128
#: GIF disposal method "restore to background": the next frame starts clear.
DISPOSE_TO_BACKGROUND = 2


def _thresholded(frame: PILImage.Image) -> PILImage.Image:
    """A P-mode frame: colours quantised to 255, alpha < 50% on the transparent index."""
    rgba = np.asarray(frame.convert("RGBA"))
    opaque = rgba[..., 3] >= ALPHA_THRESHOLD
    rgb = PILImage.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")
    quantised = rgb.quantize(colors=TRANSPARENT_INDEX, dither=PILImage.Dither.NONE)
    indices = np.asarray(quantised).copy()
    indices[~opaque] = TRANSPARENT_INDEX
    out = PILImage.fromarray(indices, "P")
    palette = quantised.getpalette() or []
    palette = (palette + [0] * 768)[:768]
    out.putpalette(palette)
    out.info["transparency"] = TRANSPARENT_INDEX
    return out


def gif_frames(frames: list[PILImage.Image]) -> tuple[list[PILImage.Image], dict]:
    """``frames`` ready for Pillow's GIF writer, and the extra keyword arguments for ``save``."""
    if not any(f.mode in ("LA", "RGBA") for f in frames):
        params = {"disposal": DISPOSE_TO_BACKGROUND} if len(frames) > 1 else {}
        return frames, params
    out = [_thresholded(f) for f in frames]
    # Each frame carries its transparent index; optimize=False keeps the palettes as
    # built, so that Pillow does not renumber them (and lose the index) frame by frame.
    params = {"disposal": DISPOSE_TO_BACKGROUND, "optimize": False}
    if len(out) == 1:
        params["transparency"] = TRANSPARENT_INDEX
    return out, params
