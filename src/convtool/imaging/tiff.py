"""TIFF files Pillow cannot hold, through tifffile: 16-bit colour and float RGB.

Pillow decodes RGB and RGBA TIFFs with 16 bits per channel to 8 bits and does
not open grey + alpha at 16 bits or float RGB at all. These go through
``tifffile`` (strips or tiles, classic TIFF or BigTIFF, every compression
``imagecodecs`` decodes). The metadata convtool keeps (ICC profile, XMP, DPI,
the basic EXIF tags) is read and written as for 8-bit TIFFs.
"""

from __future__ import annotations

import io

import numpy as np

from convtool.imaging._codecs import available, quiet_stderr, require
from convtool.imaging._pillow_compat import ORIENTATION
from convtool.imaging.metadata import SOFTWARE, SOFTWARE_TAG
from convtool.imaging.native import TIFF_MAGIC

# tifffile's photometric / extra samples for each of our deep modes.
_LAYOUT = {
    "RGB;16": ("rgb", ()), "RGBA;16": ("rgb", ("unassalpha",)),
    "LA;16": ("minisblack", ("unassalpha",)), "RGB;F": ("rgb", ()),
    "CMYK;16": ("separated", ()),
}
_ASSOCIATED_ALPHA = 1
# tifffile's compression for each of our names (see choices.TIFF_COMPRESSIONS).
_CODEC = {"none": None, "lzw": "lzw", "deflate": "adobe_deflate", "packbits": "packbits",
          "zstd": "zstd", "lzma": "lzma"}
#: Compressions tifffile writes 16-bit and float data with (convtool's names).
COMPRESSIONS = tuple(_CODEC)
_BIGTIFF_BYTES = 2**32 - 2**25  # classic TIFF offsets are 32-bit; keep a margin for tags
# Baseline tags kept as ASCII text / SHORT, with their tifffile names.
_TEXT_TAGS = {270: "ImageDescription", 271: "Make", 272: "Model", 305: "Software",
              306: "DateTime", 315: "Artist", 33432: "Copyright"}


def is_tiff(head: bytes) -> bool:
    """True when these first bytes of a file are a TIFF (or BigTIFF) header."""
    return head[:4] in TIFF_MAGIC


def _mode(page) -> str | None:
    """Our mode for a tifffile page, or None when Pillow reads it well enough."""
    samples, extra = page.samplesperpixel, tuple(page.extrasamples)
    colour = samples - len(extra)
    kind = page.dtype.kind if page.dtype is not None else ""
    bits = page.dtype.itemsize * 8 if page.dtype is not None else 0
    rgb = int(page.photometric) == 2 and colour == 3
    grey = int(page.photometric) == 1 and colour == 1
    if kind == "u" and bits == 16 and len(extra) <= 1 and (rgb or (grey and extra)):
        return ("RGBA;16" if extra else "RGB;16") if rgb else "LA;16"
    if kind == "f" and bits in (16, 32) and rgb and not extra:
        return "RGB;F"
    cmyk = int(page.photometric) == 5 and samples == 4 and not extra
    if kind == "u" and bits == 16 and cmyk and int(getattr(page, "inkset", 1)) == 1:
        return "CMYK;16"
    return None


def _eight_bit_mode(page) -> str | None:
    """L, LA, RGB or RGBA for an 8-bit grey or RGB page, else None."""
    if page.dtype is None or page.dtype != np.uint8 or len(page.extrasamples) > 1:
        return None
    colour = page.samplesperpixel - len(page.extrasamples)
    alpha = "A" if page.extrasamples else ""
    if int(page.photometric) == 2 and colour == 3:
        return "RGB" + alpha
    if int(page.photometric) == 1 and colour == 1:
        return "L" + alpha
    return None


def read_eight_bit(source, name: str, check_size) -> list[tuple[np.ndarray, str, dict]] | None:
    """Every page of an 8-bit grey or RGB TIFF as (uint8 (H, W, C), mode, info), or None.

    For what Pillow's libtiff was built without (WebP-, JPEG XL-, LERC-compressed
    TIFFs): tifffile decodes those through imagecodecs. None when tifffile is not
    installed or a page is not such an image.
    """
    if not available():
        return None
    tifffile, _ = require("TIFF", name)
    frames = []
    with quiet_stderr(), tifffile.TiffFile(source) as tif:
        for page in tif.pages:
            mode = _eight_bit_mode(page)
            if mode is None:
                return None
            check_size(page.imagewidth, page.imagelength)
            pixels = _yxs(page, page.asarray())
            if tuple(page.extrasamples) == (_ASSOCIATED_ALPHA,):
                pixels = np.clip(np.rint(_unassociate(pixels.astype(np.uint16) * 257) / 257),
                                 0, 255).astype(np.uint8)
            frames.append((pixels, mode, _info(page)))
    return frames


def deep_mode(source, name: str) -> str | None:
    """The deep mode (``RGB;16``...) of a TIFF's first page, or None: leave it to Pillow.

    None too when tifffile is not installed: the file is then Pillow's to refuse.
    """
    if not available():
        return None
    tifffile, _ = require("16-bit or float colour TIFF", name)
    with quiet_stderr(), tifffile.TiffFile(source) as tif:
        return _mode(tif.pages.first)


def _yxs(page, array: np.ndarray) -> np.ndarray:
    """The page's pixels with axes (Y, X, S), whatever the planar layout."""
    axes = page.axes
    order = [axes.index(a) for a in "YXS" if a in axes]
    array = np.transpose(array, order)
    return array[:, :, np.newaxis] if array.ndim == 2 else array


def _unassociate(array: np.ndarray) -> np.ndarray:
    """Associated (premultiplied) alpha to straight alpha, as Pillow does for 8-bit."""
    out = array.astype(np.float32)
    alpha = out[..., -1:]
    np.divide(out[..., :-1], np.where(alpha > 0, alpha, 1) / 65535.0, out=out[..., :-1])
    return np.clip(np.rint(out), 0, 65535).astype(np.uint16)


def _info(page) -> dict:
    """Metadata as :class:`~convtool.imaging.Image` ``info`` keeps it for 8-bit TIFFs."""
    from PIL import Image as PILImage

    tags = page.tags
    info = {"compression": _compression_name(page)}
    if "InterColorProfile" in tags:
        info["icc_profile"] = bytes(tags["InterColorProfile"].value)
    if "XMP" in tags:
        info["xmp"] = bytes(tags["XMP"].value)
    if "XResolution" in tags and "YResolution" in tags:
        unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
        per_inch = {2: 1.0, 3: 2.54}.get(unit)
        if per_inch is not None:
            x, y = (tags[k].value for k in ("XResolution", "YResolution"))
            info["dpi"] = (x[0] / x[1] * per_inch, y[0] / y[1] * per_inch)
    meta = PILImage.Exif()
    for code, tag_name in _TEXT_TAGS.items():
        if tag_name in tags:
            meta[code] = tags[tag_name].value
    if "Orientation" in tags:
        meta[ORIENTATION] = int(tags["Orientation"].value)
    if len(meta):
        info["exif"] = meta.tobytes()
    if int(page.predictor) != 1:
        info["predictor"] = True
    return info


# tifffile's names of the compressions whose name we keep (others are written deflate).
_KEPT = {"NONE": "none", "LZW": "lzw", "ADOBE_DEFLATE": "deflate", "DEFLATE": "deflate",
         "PACKBITS": "packbits", "ZSTD": "zstd", "LZMA": "lzma"}


def _compression_name(page) -> str:
    return _KEPT.get(getattr(page.compression, "name", ""), "deflate")


def read(source, name: str, check_size) -> list[tuple[np.ndarray, str, dict]]:
    """Every page of a deep TIFF as (pixels, mode, info); pixels uint16 or float32, (H, W, C).

    ``check_size(width, height)`` is called for every page before decoding it.
    """
    tifffile, _ = require("16-bit or float colour TIFF", name)
    frames = []
    with quiet_stderr(), tifffile.TiffFile(source) as tif:
        for page in tif.pages:
            mode = _mode(page)
            if mode is None:
                msg = (f"page {len(frames) + 1} is not 16-bit RGB, RGBA or grey + alpha, nor "
                       "float RGB, as the first page is")
                raise ValueError(msg)
            check_size(page.imagewidth, page.imagelength)
            pixels = _yxs(page, page.asarray())
            if mode == "RGB;F":
                pixels = pixels.astype(np.float32, copy=False)
            elif tuple(page.extrasamples)[-1:] == (_ASSOCIATED_ALPHA,):
                pixels = _unassociate(pixels)
            frames.append((pixels, mode, _info(page)))
    return frames


def _extratags(info: dict) -> tuple[list, dict]:
    """(tifffile extratags, keyword arguments) for the metadata in ``info``."""
    from PIL import Image as PILImage

    extratags, kwargs = [], {}
    if "xmp" in info:
        extratags.append((700, 1, len(info["xmp"]), info["xmp"], True))
    if "dpi" in info:
        kwargs["resolution"] = tuple(float(v) for v in info["dpi"])
        kwargs["resolutionunit"] = "INCH"
    if "icc_profile" in info:
        kwargs["iccprofile"] = info["icc_profile"]
    # The mark of a file convtool wrote (the two-path overwrite rule), as the Pillow path
    # writes it: the input's Software tag names the program that made the input, not this file.
    kwargs["software"] = SOFTWARE
    if "exif" in info:
        exif = PILImage.Exif()
        exif.load(info["exif"])
        for code, value in exif.items():
            text = value.encode("utf-8") if isinstance(value, str) else None  # not "?"
            if code == 270 and text is not None:
                kwargs["description"] = text
            elif code == 306 and isinstance(value, str):
                kwargs["datetime"] = value
            elif code in _TEXT_TAGS and code != SOFTWARE_TAG and text is not None:
                extratags.append((code, "s", 0, text, True))
            elif code == ORIENTATION and isinstance(value, int):
                extratags.append((code, "H", 1, value, True))
    return extratags, kwargs


def write(fp, frames: list[tuple[np.ndarray, str]], info: dict, compression: str,
          name: str) -> None:
    """Write pages (pixels uint16 or float32, (H, W, C); mode) to a binary file ``fp``.

    ``compression`` is one of convtool's TIFF compression names that applies
    to 16-bit and float data (none, lzw, deflate, packbits, zstd, lzma).
    """
    tifffile, _ = require("16-bit or float colour TIFF", name, reading=False)
    extratags, kwargs = _extratags(info)
    codec = _CODEC[compression]
    bigtiff = sum(p.nbytes for p, _ in frames) > _BIGTIFF_BYTES
    # Into memory first: tifffile wants a file object with a path-like name, and an
    # output's temporary file (os.fdopen) has a number instead.
    buffer = io.BytesIO()
    with quiet_stderr(), tifffile.TiffWriter(buffer, bigtiff=bigtiff) as writer:
        for pixels, mode in frames:
            photometric, extrasamples = _LAYOUT[mode]
            data = pixels[..., 0] if pixels.shape[2] == 1 else pixels
            writer.write(
                np.ascontiguousarray(data), photometric=photometric, planarconfig="contig",
                extrasamples=extrasamples or None, compression=codec,
                predictor=bool(codec and info.get("predictor")), metadata=None,
                extratags=extratags, **kwargs)
    fp.write(buffer.getbuffer())
