"""The input's encoder settings, kept when the format stays the same: JPEG tables, TIFF compression.

A JPEG written from a JPEG keeps its quantisation tables, chroma subsampling
and progressive mode (so a quality-95 file is not re-encoded at Pillow's 75);
``--quality`` replaces the tables. A TIFF written from a TIFF keeps its
compression; ``--compression`` chooses another. Where the kept compression
cannot hold the output (fax compression for an image that is no longer
bilevel, JPEG for 16-bit data) the output is written ``deflate``: lossless,
and small. A WebP input's losslessness is kept by :mod:`~convtool.imaging.metadata`.
"""

from __future__ import annotations

from PIL import Image as PILImage

from convtool.errors import UsageError
from convtool.imaging.model import Image, SaveOptions

# Pillow's names of TIFF compressions (im.info["compression"]) -> ours.
_FROM_PILLOW = {
    "raw": "none", "tiff_lzw": "lzw", "tiff_adobe_deflate": "deflate",
    "tiff_deflate": "deflate", "jpeg": "jpeg", "tiff_jpeg": "jpeg", "packbits": "packbits",
    "group3": "group3", "group4": "group4", "tiff_ccitt": "group4", "zstd": "zstd",
    "lzma": "lzma",
}
_TO_PILLOW = {
    "none": "raw", "lzw": "tiff_lzw", "deflate": "tiff_adobe_deflate", "jpeg": "jpeg",
    "packbits": "packbits", "group3": "group3", "group4": "group4", "zstd": "zstd",
    "lzma": "lzma",
}
# Compressions that hold only some Pillow modes; the others hold every mode Pillow writes.
_PILLOW_MODES = {"group3": ("1",), "group4": ("1",), "jpeg": ("L", "RGB", "CMYK")}
# What the compressions that hold only some modes need, for messages.
_NEEDS = {"group3": "a bilevel image (a bilevel input with keep_palette)",
          "group4": "a bilevel image (a bilevel input with keep_palette)",
          "jpeg": "8 bits per channel, greyscale, RGB or CMYK, without alpha"}
# Inputs whose JPEG tables are kept for a JPEG output (an MPO's pictures are JPEGs).
_JPEG_FORMATS = ("JPEG", "MPO")
#: Written instead of a kept compression that cannot hold the output.
FALLBACK = "deflate"


def read_settings(im: PILImage.Image) -> dict:
    """The encoder settings of an opened Pillow frame worth keeping, as ``info`` entries."""
    settings = {}
    if im.format in _JPEG_FORMATS:
        from PIL.JpegImagePlugin import get_sampling

        tables = getattr(im, "quantization", None)
        if tables:
            settings["quantization"] = {k: list(v) for k, v in tables.items()}
        sampling = get_sampling(im)
        if sampling != -1:  # -1: greyscale, or a layout Pillow has no name for
            settings["subsampling"] = sampling
        if im.info.get("progressive"):
            settings["progressive"] = True
    elif im.format == "TIFF":
        name = im.info.get("compression")
        if name is not None:
            settings["compression"] = _FROM_PILLOW.get(name, FALLBACK)
    return settings


def tiff_compression(image: Image, options: SaveOptions, fits, name: str) -> str:
    """The compression to write a TIFF with; ``fits(compression)`` tells if it holds the image.

    ``options.compression`` wins and is refused when it cannot hold the image;
    else a TIFF input's own (or :data:`FALLBACK` when it cannot); else none.
    """
    if options.compression is not None:
        if not fits(options.compression):
            need = _NEEDS.get(options.compression, "another kind of image")
            msg = (f"{name}: compression {options.compression} needs {need}; "
                   "choose none, lzw, deflate, packbits, zstd or lzma")
            raise UsageError(msg, params=("compression", "keep_palette"))
        return options.compression
    kept = image.info.get("compression") if image.format == "TIFF" else None
    if kept is None:
        return "none"
    return kept if fits(kept) else FALLBACK


def check_tiff_quality(options: SaveOptions, compression: str, name: str) -> None:
    """Refuse ``--quality`` for a TIFF that is not JPEG-compressed."""
    if options.quality is not None and compression != "jpeg":
        written = "uncompressed" if compression == "none" else f"with {compression}"
        msg = (f"{name}: quality applies to TIFF only when it is JPEG-compressed (this one "
               f"would be written {written}); add compression jpeg")
        raise UsageError(msg, params=("quality", "compression"))


def pillow_params(image: Image, fmt: str, pil_mode: str, options: SaveOptions,
                  name: str) -> dict:
    """Pillow ``save`` arguments that keep (or override) the input's encoder settings."""
    info = image.info
    params: dict = {}
    if fmt == "JPEG" and image.format in _JPEG_FORMATS:
        if options.quality is None and "quantization" in info:
            params["qtables"] = info["quantization"]
        if "subsampling" in info:
            params["subsampling"] = info["subsampling"]
        if info.get("progressive"):
            params["progressive"] = True
    elif fmt == "TIFF":
        compression = tiff_compression(
            image, options, lambda c: pil_mode in _PILLOW_MODES.get(c, (pil_mode,)), name)
        check_tiff_quality(options, compression, name)
        params["compression"] = _TO_PILLOW[compression]
    return params

