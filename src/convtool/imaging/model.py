"""The :class:`Image` value, :class:`SaveOptions`, and the table of pixel modes.

Free of numpy and Pillow at import time, so that the tables can be read cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from convtool.errors import UsageError
from convtool.imaging.choices import DEPTHS, TIFF_COMPRESSION_ALIASES, TIFF_COMPRESSIONS

if TYPE_CHECKING:
    import numpy as np

# Full scale of integer modes; None: raw values (float images, 32-bit integers).
FULL_SCALE: dict[str, float | None] = {
    "L": 255.0, "LA": 255.0, "RGB": 255.0, "RGBA": 255.0, "CMYK": 255.0,
    "I;16": 65535.0, "I": None, "F": None,
    "RGB;16": 65535.0, "RGBA;16": 65535.0, "LA;16": 65535.0, "RGB;F": None,
    "CMYK;16": 65535.0,
}
#: Colour modes Pillow cannot hold (16 bits per channel, float RGB): read and
#: written by :mod:`convtool.imaging.png16` and :mod:`convtool.imaging.tiff`.
DEEP_MODES = ("RGB;16", "RGBA;16", "LA;16", "RGB;F", "CMYK;16")
#: Modes whose last channel is alpha.
ALPHA_CHANNEL_MODES = ("LA", "RGBA", "LA;16", "RGBA;16")
EIGHT_BIT_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# Modes Pillow converts losslessly to one of ours.
CONVERTED_MODES = {"1": "L", "RGBX": "RGB", "La": "LA", "RGBa": "RGBA", "PA": "RGBA"}
# Modes whose values are gamma-encoded (sRGB), so --linear applies.
GAMMA_MODES = ("L", "LA", "RGB", "RGBA", "I;16", "RGB;16", "RGBA;16", "LA;16")


@dataclass
class Image:
    """An image as convtool filters it.

    Attributes
    ----------
    pixels : ndarray, shape (H, W, C)
        float32 (float64 for mode ``I``); 0..1 for 8- and 16-bit images,
        raw values for ``I`` and ``F``. See the module docstring.
    mode : str
        Mode the pixels are written back as: Pillow's ``L``, ``LA``, ``RGB``,
        ``RGBA``, ``CMYK``, ``I;16``, ``I`` or ``F``, or one Pillow cannot
        hold (:data:`DEEP_MODES`): ``RGB;16``, ``RGBA;16``, ``LA;16`` (16 bits
        per channel) and ``RGB;F`` (float RGB, TIFF only).
    info : dict
        Metadata to carry to the output: ``icc_profile``, ``exif``, ``dpi``,
        ``xmp``, ``text`` (PNG text chunks), ``duration``, ``loop``, ``comment``,
        ``lossless`` (a lossless WebP input, written lossless to WebP),
        ``default_image`` (on frame 0 of an APNG whose first image is not part
        of the animation; see :mod:`convtool.imaging.multi`), and the input's
        encoder settings, kept when the format stays the same:
        ``quantization``, ``subsampling``, ``progressive`` (JPEG),
        ``compression``, ``predictor`` (TIFF).
    format : str or None
        The format the image was read from, e.g. ``"PNG"``.
    source_mode : str or None
        The mode as read when it differs from ``mode`` (``"P"``, ``"1"``,
        ``"I;16B"``, ...); ``keep_palette`` writes ``P`` and ``1`` back.
    extra_frames : tuple of Image
        The frames after this one of an animation or multi-page file.
    """

    pixels: np.ndarray
    mode: str
    info: dict = field(default_factory=dict)
    format: str | None = None
    source_mode: str | None = None
    extra_frames: tuple[Image, ...] = ()

    @property
    def unit_scale(self) -> bool:
        """True when values are on the 0..1 scale (integer images); False for raw ``I``/``F``."""
        return FULL_SCALE.get(self.mode) is not None

    @property
    def has_alpha(self) -> bool:
        """True when the last channel is alpha (``LA``, ``RGBA``, ``LA;16``, ``RGBA;16``)."""
        return self.mode in ALPHA_CHANNEL_MODES

    @property
    def frames(self) -> tuple[Image, ...]:
        """Every frame, this one first."""
        return (replace(self, extra_frames=()), *self.extra_frames)


@dataclass(frozen=True)
class SaveOptions:
    """How :func:`write_image` encodes and writes a file.

    Attributes
    ----------
    format : str or None
        Pillow format name (``"PNG"``, ``"jpg"``, ...); None: from the extension.
    quality : int or None
        1..100 for JPEG, WebP and AVIF; None: Pillow's default (JPEG 75, WebP 80).
    compress_level : int or None
        PNG zlib level 0..9; None: :data:`DEFAULT_COMPRESS_LEVEL`.
    keep_palette : bool
        Write palette (``P``) inputs as ``P`` (requantised to at most 256
        colours) and bilevel (``1``) inputs as ``1`` (thresholded at 50%).
    no_clobber : bool
        Refuse to replace an existing output file (:class:`ImageWriteError`).
    compression : str or None
        TIFF compression (:data:`~convtool.imaging.choices.TIFF_COMPRESSIONS`);
        None: the input's own for a TIFF input, else none.
    background : str or None
        A colour (a name such as ``"white"``, or ``#rrggbb``) to flatten alpha
        onto before writing; None: alpha is kept (and refused by formats
        without it).
    depth : int or None
        8: write 16-bit and float images with 8 bits per channel, as formats
        such as JPEG need; None: keep the image's depth (and refuse formats
        that cannot hold it).
    """

    format: str | None = None
    quality: int | None = None
    compress_level: int | None = None
    keep_palette: bool = False
    no_clobber: bool = False
    compression: str | None = None
    background: str | None = None
    depth: int | None = None

    def __post_init__(self):
        if self.quality is not None and not 1 <= self.quality <= 100:
            msg = f"quality must be a whole number from 1 to 100, got {self.quality}"
            raise UsageError(msg)
        if self.compress_level is not None and not 0 <= self.compress_level <= 9:
            msg = f"compress-level must be a whole number from 0 to 9, got {self.compress_level}"
            raise UsageError(msg)
        if self.compression is not None:
            name = self.compression.strip().lower()
            if name not in TIFF_COMPRESSIONS:
                msg = (f"compression {self.compression!r} is not one a TIFF can have: choose "
                       f"one of {', '.join(TIFF_COMPRESSIONS)}")
                raise UsageError(msg, params=("compression",))
            object.__setattr__(self, "compression", TIFF_COMPRESSION_ALIASES.get(name, name))
        if self.depth is not None and self.depth not in DEPTHS:
            msg = f"depth must be {' or '.join(map(str, DEPTHS))}, got {self.depth}"
            raise UsageError(msg, params=("depth",))
        if self.background is not None:
            from convtool.imaging.convert import parse_colour

            parse_colour(self.background)
