"""Which pictures of a multi-image input an output format receives.

Two kinds of multi-image file are not animations, and Pillow hands them over
as frames all the same:

* An APNG's *default image* (an ``IDAT`` outside the animation, shown by
  viewers that know no APNG) is read as frame 0. Written back to PNG it stays
  the default image; other formats get the animation alone.
* An MPO file (a JPEG followed by more JPEGs: a stereo pair, a large preview)
  is written whole to JPEG (as MPO, which every JPEG reader reads as its first
  picture) and as its primary picture to every other format, as viewers show it.
"""

from __future__ import annotations

from dataclasses import replace

from convtool.imaging.model import Image


def frames_for(image: Image, fmt: str) -> tuple[Image, str]:
    """``image`` with the frames ``fmt`` should receive, and the Pillow format to save as.

    Examples
    --------
    >>> import numpy as np
    >>> px = np.zeros((1, 1, 3), np.float32)
    >>> mpo = Image(px, "RGB", format="MPO", extra_frames=(Image(px, "RGB", format="MPO"),))
    >>> [(len(im.frames), f) for im, f in (frames_for(mpo, "JPEG"), frames_for(mpo, "PNG"))]
    [(2, 'MPO'), (1, 'PNG')]
    """
    frames = image.frames
    if len(frames) < 2:
        return image, fmt
    if image.format == "MPO":
        if fmt in ("JPEG", "MPO"):
            return image, "MPO"
        return frames[0], fmt
    if image.info.get("default_image") and fmt != "PNG":
        first, *rest = frames[1:]
        return replace(first, extra_frames=tuple(rest)), fmt
    return image, fmt
