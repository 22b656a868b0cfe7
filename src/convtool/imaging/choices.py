"""Closed sets of choices for images, free of numpy and Pillow (cheap to import).

The library, the CLI help and shell completion all read these tables.
"""

from __future__ import annotations

from typing import Literal

AlphaMode = Literal["premultiply", "separate", "ignore"]
#: How the alpha channel takes part in filtering: ``premultiply`` (colour
#: weighted by alpha, so no dark fringes; the default), ``separate`` (every
#: channel filtered on its own) or ``ignore`` (colour filtered, alpha kept).
ALPHA_MODES: tuple[str, ...] = ("premultiply", "separate", "ignore")

#: zlib level convtool writes PNG files with unless told otherwise. Pillow's
#: own default (zlib's 6) takes about 3x as long for ~15% smaller files; see
#: the README ("Image fidelity, pipes and safe writes") for the measurement.
DEFAULT_COMPRESS_LEVEL = 3

#: The path that means stdin (reading) or stdout (writing).
STDIO = "-"

#: The extension an output gets for a format; other formats take Pillow's first one.
FORMAT_EXTENSIONS: dict[str, str] = {
    "JPEG": ".jpg", "TIFF": ".tif", "PNG": ".png", "WEBP": ".webp",
    "BMP": ".bmp", "GIF": ".gif", "JPEG2000": ".jp2", "MPO": ".mpo",
}
#: Extensions Pillow reads and writes but does not register (MPO is found by
#: the JPEG plugin): they count as images in folders and name an output format.
EXTRA_EXTENSIONS: dict[str, str] = {".mpo": "MPO"}
#: Short names accepted for a format, as file extensions spell them.
FORMAT_ALIASES: dict[str, str] = {"JPG": "JPEG", "TIF": "TIFF"}
#: Extensions of formats that Pillow reads or writes only with a plugin this
#: install may lack, and what provides them: named in the refusal.
PLUGIN_FORMATS: dict[str, str] = {
    ".heic": "HEIC (the pillow-heif plugin)", ".heif": "HEIF (the pillow-heif plugin)",
    ".jxl": "JPEG XL (the pillow-jxl-plugin)", ".avif": "AVIF (Pillow 11.2+ or pillow-avif-plugin)",
}
#: Formats that take a quality (1..100).
QUALITY_FORMATS: tuple[str, ...] = ("JPEG", "WEBP", "AVIF")
#: Where each mode can be written, for error messages.
FORMATS_FOR_MODE: dict[str, str] = {
    "LA": "PNG, TIFF or WebP", "RGBA": "PNG, TIFF or WebP", "CMYK": "JPEG or TIFF",
    "I;16": "PNG or TIFF", "I": "TIFF", "F": "TIFF",
    "RGB;16": "PNG, TIFF or PPM", "RGBA;16": "PNG or TIFF", "LA;16": "PNG or TIFF", "RGB;F": "TIFF",
    "CMYK;16": "TIFF",
}

#: TIFF compressions convtool writes (``--compression``): a TIFF input keeps
#: its own unless told otherwise. ``group3``/``group4`` (fax) hold bilevel
#: images only, ``jpeg`` 8-bit greyscale, RGB and CMYK (lossy; takes --quality).
TIFF_COMPRESSIONS: tuple[str, ...] = ("none", "lzw", "deflate", "zip", "jpeg", "packbits",
                                      "group3", "group4", "zstd", "lzma")
#: Other names for a TIFF compression.
TIFF_COMPRESSION_ALIASES: dict[str, str] = {"zip": "deflate"}
#: Bit depths ``--depth`` reduces an image to (16-bit and float images to 8 bits).
DEPTHS: tuple[int, ...] = (8,)

#: What a format cannot hold and Pillow would drop or convert without a word:
#: ``alpha`` (an alpha channel), ``deep`` (more than 8 bits per channel: 16-bit,
#: 32-bit integer and float images), ``cmyk``. Such writes are refused
#: (:func:`convtool.imaging.formats.check_can_hold`). Formats whose encoder
#: refuses on its own are not listed.
FORMAT_LIMITS: dict[str, tuple[str, ...]] = {
    "BMP": ("alpha",), "PPM": ("alpha",),
    "WEBP": ("deep", "cmyk"), "AVIF": ("deep", "cmyk"), "GIF": ("deep", "cmyk"),
}
#: Formats whose frames may differ in size (pages rather than an animation).
PAGED_FORMATS: tuple[str, ...] = ("TIFF", "MPO")

#: An output is written to a hidden file named so, then renamed into place.
TEMP_PREFIX, TEMP_SUFFIX = ".convtool-", ".tmp"
TEMP_PATTERN = f"{TEMP_PREFIX}*{TEMP_SUFFIX}"
