"""Animated PNG with 16 bits per channel, through libpng (``imagecodecs``).

Pillow reads an APNG's frames at 8 bits and cannot write 16-bit ones. Reading:
libpng composes every frame (disposal and blending applied), and the timing
(``fcTL``), loop count (``acTL``) and whether the first image is a hidden default
image come from the chunks themselves. Writing: each frame is encoded whole by
libpng (:func:`convtool.imaging.png16.encode`) and its image data re-wrapped as
an animation frame (``fcTL`` + ``fdAT``), every frame covering the whole canvas
with no disposal and no blending, so what is written is what was composed.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from convtool.imaging import png16
from convtool.imaging._codecs import quiet_stderr, require

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def timing(data: bytes) -> tuple[list[float], int | None, bool]:
    """(durations in ms of the animation frames, loop count, hidden default image)."""
    durations, loop, default_image, seen_fctl = [], None, False, False
    for kind, chunk in png16.chunks(data):
        body = chunk[8:-4]
        if kind == b"acTL" and len(body) == 8:
            loop = struct.unpack(">I", body[4:8])[0]
        elif kind == b"fcTL" and len(body) == 26:
            seen_fctl = True
            num, den = struct.unpack(">HH", body[20:24])
            durations.append(num * 1000.0 / (den or 100))
        elif kind == b"IDAT" and not seen_fctl:
            default_image = True
        elif kind == b"IEND":
            break
    return durations, loop, default_image


def decode(data: bytes, name: str) -> np.ndarray:
    """Every image of the file, composed, as uint16 (N, H, W, C); a hidden default first."""
    _, imagecodecs = require("16-bit colour animated PNG", name)
    with quiet_stderr():
        frames = imagecodecs.apng_decode(data)
    if frames.ndim == 3:  # one grey image
        frames = frames[np.newaxis]
    if frames.ndim == 3 or frames.shape[-1] > 4:  # grey frames: (N, H, W)
        frames = frames[..., np.newaxis]
    return frames


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _image_data(png: bytes) -> bytes:
    return b"".join(chunk[8:-4] for kind, chunk in png16.chunks(png) if kind == b"IDAT")


def encode(frames: list[np.ndarray], durations: list[float], loop: int, default_image: bool,
           params: dict, name: str) -> bytes:
    """An APNG of uint16 ``frames`` (each (H, W, C)) with Pillow's metadata ``params``.

    With ``default_image`` the first frame is the hidden default image and
    ``durations`` time the others.
    """
    first = png16.encode(frames[0], params, name)
    level = {"compress_level": params.get("compress_level", 6)}
    head = [_SIGNATURE]  # then IHDR and the metadata chunks, everything before the pixels
    for kind, chunk in png16.chunks(first):
        if kind == b"IDAT":
            break
        head.append(chunk)
    height, width = frames[0].shape[:2]
    shown = len(frames) - bool(default_image)
    out = [*head, _chunk(b"acTL", struct.pack(">II", shown, loop))]
    sequence = 0
    for index, frame in enumerate(frames):
        hidden = default_image and index == 0
        if not hidden:
            delay = durations[index - bool(default_image)] if durations else 0
            fctl = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0,
                               min(round(delay), 65535), 1000, 0, 0)
            out.append(_chunk(b"fcTL", fctl))
            sequence += 1
        data = _image_data(first if index == 0 else png16.encode(frame, level, name))
        if index == 0:
            out.append(_chunk(b"IDAT", data))
        else:
            out.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
            sequence += 1
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)
