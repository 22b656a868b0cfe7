"""Metadata carried from input to output: ICC profile, EXIF, DPI, XMP, text, animation."""

from __future__ import annotations

import struct

from PIL import Image as PILImage

from convtool.errors import UsageError
from convtool.imaging._pillow_compat import ORIENTATION
from convtool.imaging.choices import DEFAULT_COMPRESS_LEVEL
from convtool.imaging.encoder import read_settings
from convtool.imaging.model import Image, SaveOptions

INFO_KEYS = ("icc_profile", "exif", "dpi", "xmp", "duration", "loop", "comment")
# Baseline TIFF tags that are metadata (not layout), carried to and from TIFF files.
TIFF_META_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)
#: TIFF tag of XMP metadata.
XMP_TAG = 700
SOFTWARE_TAG = 305
#: What convtool writes in the Software field of the PNG and TIFF files it writes
#: (the program that wrote a file, as image editors set it). The command line
#: replaces an existing OUTPUT without --overwrite only if it carries this mark.
SOFTWARE = "convtool"
#: The formats that carry the mark.
MARKED_FORMATS = ("PNG", "TIFF")


def _raw_text(value):
    """A TIFF text tag's value as the bytes the file held.

    Pillow decodes text tags as Latin-1 and encodes them back as ASCII, turning
    every other byte into ``?`` (UTF-8 descriptions, accented names); bytes
    are written as they are.
    """
    if not isinstance(value, str):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def read_info(im: PILImage.Image, tiff_tags=None, orientation: int | None = None, *,
              png_text: bool = True) -> dict:
    """The metadata of a loaded Pillow frame to carry to the output, as :attr:`Image.info`.

    ``tiff_tags`` (a TIFF's ``getexif()``) and ``orientation`` (its orientation
    tag, taken out before loading) apply to TIFF files only. ``png_text=False``
    leaves out a PNG's text chunks, which Pillow finds only by loading the pixels.
    """
    info = {k: im.info[k] for k in INFO_KEYS if k in im.info}
    info.update(read_settings(im))
    if im.format == "PNG" and png_text and getattr(im, "text", None):
        info["text"] = dict(im.text)
    if tiff_tags is not None:
        meta = PILImage.Exif()
        for tag in TIFF_META_TAGS:
            if tag in tiff_tags:
                meta[tag] = _raw_text(tiff_tags[tag])
        if orientation is not None:
            meta[ORIENTATION] = orientation
        if len(meta):
            info["exif"] = meta.tobytes()
    return info


#: Largest resolution kept (dots per inch): formats store it in 32 bits, often per metre.
MAX_DPI = 1_000_000


def _storable_dpi(dpi) -> bool:
    try:
        return all(0 < float(v) <= MAX_DPI for v in dpi)
    except (TypeError, ValueError):
        return False


def save_params(image: Image, fmt: str, options: SaveOptions) -> dict:
    """Keyword arguments for Pillow's ``save``: metadata, compression, frames."""
    info = image.info
    params = {k: info[k] for k in ("icc_profile", "dpi", "xmp", "comment") if k in info}
    if "dpi" in params and not _storable_dpi(params["dpi"]):
        del params["dpi"]  # damaged (7e257 in a JPEG 2000 file): no format stores it
    if "exif" in info:
        if fmt == "TIFF":
            exif = PILImage.Exif()
            try:
                exif.load(info["exif"])
            except (SyntaxError, ValueError, EOFError, struct.error):
                msg = ("the input's EXIF block is damaged, and TIFF stores EXIF as tags that "
                       "must be read out of it; write JPEG, PNG or WebP, which keep it as bytes")
                raise UsageError(msg) from None
            params["tiffinfo"] = {t: _raw_text(v) for t, v in exif.items() if t in TIFF_META_TAGS}
        else:
            params["exif"] = info["exif"]
    if fmt == "TIFF" and "xmp" in info:  # Pillow's TIFF writer takes XMP only as its tag
        params.setdefault("tiffinfo", {})[XMP_TAG] = info["xmp"]
    if fmt == "TIFF":  # the mark of a file convtool wrote (the two-path overwrite rule)
        params.setdefault("tiffinfo", {})[SOFTWARE_TAG] = SOFTWARE
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        params["compress_level"] = (DEFAULT_COMPRESS_LEVEL if options.compress_level is None
                                    else options.compress_level)
        chunks = PngInfo()
        for key, value in {**info.get("text", {}), "Software": SOFTWARE}.items():
            chunks.add_text(key, value)
        params["pnginfo"] = chunks
    if options.quality is not None:
        params["quality"] = options.quality
    elif fmt == "WEBP" and info.get("lossless"):
        params["lossless"] = True
        params["exact"] = True  # keep colour under alpha 0 as computed, like PNG
    frames = image.frames
    if len(frames) > 1:
        params["save_all"] = True
        if fmt == "PNG" and info.get("default_image"):
            params["default_image"] = True
        # An APNG default image is not shown in the animation and has no duration.
        timed = frames[1:] if fmt == "PNG" and info.get("default_image") else frames
        if any("duration" in f.info for f in timed):
            params["duration"] = [f.info.get("duration", 0) for f in timed]  # none: no delay
        if "loop" in info:
            params["loop"] = info["loop"]
    return params


def written_by_convtool(path) -> bool:
    """Whether the image file at ``path`` carries convtool's mark (see :data:`SOFTWARE`).

    False for a file that is missing, not an image, or of a format without the mark.
    """
    try:
        with PILImage.open(path) as im:
            if im.format == "PNG":
                return im.text.get("Software") == SOFTWARE
            if im.format == "TIFF":
                return im.getexif().get(SOFTWARE_TAG) == SOFTWARE
    except (OSError, ValueError, SyntaxError):  # what Pillow raises for unreadable files
        return False
    return False
