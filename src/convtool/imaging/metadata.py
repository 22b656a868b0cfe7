"""Metadata carried from input to output: ICC profile, EXIF, DPI, XMP, text, animation."""

from __future__ import annotations

from PIL import Image as PILImage

from convtool.imaging._pillow_compat import ORIENTATION
from convtool.imaging.choices import DEFAULT_COMPRESS_LEVEL
from convtool.imaging.model import Image, SaveOptions

INFO_KEYS = ("icc_profile", "exif", "dpi", "xmp", "duration", "loop", "comment")
# Baseline TIFF tags that are metadata (not layout), carried to and from TIFF files.
TIFF_META_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)


def read_info(im: PILImage.Image, tiff_tags=None, orientation: int | None = None) -> dict:
    """The metadata of a loaded Pillow frame to carry to the output, as :attr:`Image.info`.

    ``tiff_tags`` (a TIFF's ``getexif()``) and ``orientation`` (its orientation
    tag, taken out before loading) apply to TIFF files only.
    """
    info = {k: im.info[k] for k in INFO_KEYS if k in im.info}
    if im.format == "PNG" and getattr(im, "text", None):
        info["text"] = dict(im.text)
    if tiff_tags is not None:
        meta = PILImage.Exif()
        for tag in TIFF_META_TAGS:
            if tag in tiff_tags:
                meta[tag] = tiff_tags[tag]
        if orientation is not None:
            meta[ORIENTATION] = orientation
        if len(meta):
            info["exif"] = meta.tobytes()
    return info


def save_params(image: Image, fmt: str, options: SaveOptions) -> dict:
    """Keyword arguments for Pillow's ``save``: metadata, compression, frames."""
    info = image.info
    params = {k: info[k] for k in ("icc_profile", "dpi", "xmp", "comment") if k in info}
    if "exif" in info:
        if fmt == "TIFF":
            exif = PILImage.Exif()
            exif.load(info["exif"])
            params["tiffinfo"] = {t: v for t, v in exif.items() if t in TIFF_META_TAGS}
        else:
            params["exif"] = info["exif"]
    if fmt == "PNG":
        params["compress_level"] = (DEFAULT_COMPRESS_LEVEL if options.compress_level is None
                                    else options.compress_level)
        if info.get("text"):
            from PIL.PngImagePlugin import PngInfo

            chunks = PngInfo()
            for key, value in info["text"].items():
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
            params["duration"] = [f.info.get("duration", 100) for f in timed]
        if "loop" in info:
            params["loop"] = info["loop"]
    return params
