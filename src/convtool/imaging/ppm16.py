"""16-bit colour PPM (a maximum value above 255), which Pillow reads at 8 bits and cannot write.

Binary (P6) and plain-text (P3) pixels are read from where Pillow found them
(:func:`~convtool.imaging._pillow_compat.ppm_layout`), scaled by the file's
maximum value to 0..1. They are written back as binary P6 with a maximum
value of 65535, so a file with that maximum comes back exactly.
"""

from __future__ import annotations

import re

import numpy as np


def decode(data: bytes, width: int, height: int, maxval: int, offset: int,
           plain: bool) -> np.ndarray:
    """The pixels as float32 0..1, shape (H, W, 3); ValueError when the file is short."""
    count = width * height * 3
    if plain:
        tokens = re.sub(rb"#[^\n]*", b" ", data[offset:]).split()
        if len(tokens) < count:
            msg = f"{len(tokens)} of {count} sample values"
            raise ValueError(msg)
        values = np.array(tokens[:count], dtype=np.uint32)
    else:
        if len(data) - offset < 2 * count:
            msg = f"{len(data) - offset} of {2 * count} bytes of pixels"
            raise ValueError(msg)
        values = np.frombuffer(data, dtype=">u2", count=count, offset=offset)
    if values.max(initial=0) > maxval:
        msg = f"a sample value above the maximum value {maxval}"
        raise ValueError(msg)
    pixels = values.reshape(height, width, 3).astype(np.float32)
    pixels /= np.float32(maxval)
    return pixels


def encode(pixels: np.ndarray) -> bytes:
    """A binary PPM (P6, maximum value 65535) of uint16 pixels, shape (H, W, 3)."""
    height, width = pixels.shape[:2]
    header = f"P6\n{width} {height}\n65535\n".encode("ascii")
    return header + np.ascontiguousarray(pixels, dtype=">u2").tobytes()
