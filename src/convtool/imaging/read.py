"""Reading: decode a file, stdin or stream into an :class:`Image`, every frame, safely."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from convtool.errors import ImageReadError, UsageError
from convtool.imaging import deep, fastdecode
from convtool.imaging._pillow_compat import (
    ORIENTATION,
    keep_tiff_layout,
    ppm_layout,
    rawmode,
    sixteen_bits_per_channel,
    unsigned_16_bit_grey,
)
from convtool.imaging.choices import STDIO
from convtool.imaging.colourkey import add_key_alpha, colour_key
from convtool.imaging.jpeg import final_eoi, with_filler
from convtool.imaging.metadata import read_info
from convtool.imaging.model import (
    CONVERTED_MODES,
    FULL_SCALE,
    SIXTEEN_BIT_MODES,
    Image,
)
from convtool.imaging.native import libtiff_messages
from convtool.imaging.pil_pixels import array_from_pil, unit_scale
from convtool.imaging.recover import recover

_pillow_limit_lock = threading.Lock()


@contextlib.contextmanager
def _decoding(name: str):
    """Turn Pillow's many decoding exceptions into one ImageReadError naming the file.

    Pillow reports some damage only as a warning and goes on (a truncated TIFF
    strip, a tag past the end of the file): such files are refused too.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            # An intact JPEG whose MPO header is damaged: Pillow reads it as the
            # plain JPEG it is, as every viewer does.
            warnings.filterwarnings("ignore", "Image appears to be a malformed MPO", UserWarning)
            yield
    except FileNotFoundError:
        msg = f"{name}: no such file"
        raise ImageReadError(msg) from None
    except PermissionError:
        msg = f"{name}: permission denied"
        raise ImageReadError(msg) from None
    except UnidentifiedImageError:
        msg = f"{name}: not an image file Pillow can read"
        raise ImageReadError(msg) from None
    except NotImplementedError as e:
        msg = f"{name}: a variant of its format that Pillow does not decode ({e})"
        raise ImageReadError(msg) from None
    except PILImage.DecompressionBombError as e:
        msg = f"{name}: refused as a possible decompression bomb ({e})"
        raise ImageReadError(msg) from None
    except (OSError, SyntaxError, ValueError, EOFError, UserWarning) as e:
        msg = f"{name}: cannot decode image ({e})"
        raise ImageReadError(msg) from None


#: Bytes of image file allowed per pixel of the limit on standard input
#: (16-bit RGBA stored raw is 8), and a margin for metadata (ICC, EXIF, XMP).
STDIN_BYTES_PER_PIXEL = 8
STDIN_MARGIN = 1024 * 1024


def stdin_limit(limit: int | None) -> int | None:
    """The most bytes read from standard input for a pixel limit of ``limit``."""
    return None if limit is None else limit * STDIN_BYTES_PER_PIXEL + STDIN_MARGIN


def _read_stdin(limit: int | None, max_pixels: int | None) -> io.BytesIO:
    stdin = sys.stdin.buffer if sys.stdin is not None else None
    if stdin is None:
        msg = "<stdin>: standard input is closed: pipe an image in"
        raise ImageReadError(msg)
    if stdin.isatty():
        msg = "input '-' reads an image from stdin, but stdin is a terminal; pipe an image in"
        raise UsageError(msg)
    cap = stdin_limit(limit)
    try:
        data = stdin.read() if cap is None else stdin.read(cap + 1)
    except IsADirectoryError:
        msg = "<stdin>: standard input is a folder, not an image"
        raise ImageReadError(msg) from None
    except OSError as e:
        msg = f"<stdin>: cannot read standard input ({e.strerror or e})"
        raise ImageReadError(msg) from None
    if not data:
        msg = "<stdin>: no data: expected an image on stdin"
        raise ImageReadError(msg)
    if cap is not None and len(data) > cap:
        given = "the default max_pixels" if max_pixels is None else f"max_pixels {max_pixels}"
        msg = (f"<stdin>: more than {cap:,} bytes, more than an image within the pixel limit "
               f"({given}) can take; raise max_pixels, or pass a file")
        raise ImageReadError(msg, params=("max_pixels",))
    return io.BytesIO(data)


@contextlib.contextmanager
def _pixel_limit_lifted():
    """Lift Pillow's own size check, tied to a global, while opening a file.

    convtool checks the size itself against the limit the caller chose.
    """
    with _pillow_limit_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def _lifted_for(im: PILImage.Image):
    """Lift Pillow's limit while loading ``im`` if it is over it (our own check has passed).

    Pillow checks a TIFF's size again as it loads (``load_prepare``), against
    its global limit, not the caller's: a TIFF over 89,478,485 pixels was
    refused as damaged even with a higher ``max_pixels``.
    """
    width, height = im.size
    if PILImage.MAX_IMAGE_PIXELS is None or width * height <= PILImage.MAX_IMAGE_PIXELS:
        return contextlib.nullcontext()
    return _pixel_limit_lifted()


def _limit(max_pixels: int | None) -> int | None:
    if max_pixels is not None and max_pixels < 1:
        msg = f"max_pixels must be a whole number >= 1, got {max_pixels}"
        raise UsageError(msg, params=("max_pixels",))
    return PILImage.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels


def _check_size(width: int, height: int, name: str, limit: int | None) -> None:
    if limit is not None and width * height > limit:
        msg = (f"{name}: {width}x{height} is {width * height:,} pixels, more than the limit of "
               f"{limit:,} (Pillow's guard against decompression bombs); if you trust the "
               f"file, raise the limit with max_pixels {width * height}")
        raise ImageReadError(msg, params=("max_pixels",))


def _open(source, name: str, max_pixels: int | None) -> PILImage.Image:
    if isinstance(source, str) and os.path.isdir(source):
        msg = f"{name}: is a folder, not an image file"
        raise ImageReadError(msg)
    limit = _limit(max_pixels)
    with _decoding(name), _pixel_limit_lifted():
        im = PILImage.open(source)
    try:
        _check_size(*im.size, name, limit)
    except ImageReadError:
        im.close()
        raise
    return im


def _over_limit(name: str, what: str, pixels: int, limit: int, suggest: int) -> ImageReadError:
    msg = (f"{name}: {what} {pixels:,} pixels, more than the limit of {limit:,} (Pillow's "
           f"guard against decompression bombs); if you trust the file, raise the limit "
           f"with max_pixels {suggest}")
    return ImageReadError(msg, params=("max_pixels",))


def _read_frames(opened: PILImage.Image, name: str, limit: int | None,
                 integers: bool = False, source=None) -> list[Image]:
    """Decode every frame, refusing before decoding when all frames together pass ``limit``.

    Memory is spent per file, so the limit is on the decoded pixels of every
    frame (Pillow decodes each frame to the whole canvas): first from the
    declared frame count, then frame by frame, as a later frame may be larger
    (a TIFF page, a GIF frame that grows the canvas).
    """
    with _decoding(name), _pixel_limit_lifted():  # counting a TIFF's pages reads their tags
        count = getattr(opened, "n_frames", 1)
    width, height = opened.size
    if limit is not None and count > 1 and count * width * height > limit:
        total = count * width * height
        raise _over_limit(name, f"{count:,} frames of {width}x{height} hold", total, limit, total)
    frames, seen = [], 0
    for index in range(count):
        with _decoding(name), _pixel_limit_lifted():  # Pillow checks its own limit per frame
            opened.seek(index)
        width, height = opened.size
        seen += width * height
        if limit is not None and seen > limit:
            estimate = seen + (count - index - 1) * width * height
            what = f"frame {index + 1} of {count} is {width}x{height}: the frames so far hold"
            raise _over_limit(name, what, seen, limit, estimate)
        frames.append(_from_pil(opened, name, integers, source if count == 1 else None))
    return frames


def read_image(source, *, max_pixels: int | None = None, integers: bool = False) -> Image:
    """Read an image file into an :class:`Image`, every frame of it.

    Parameters
    ----------
    source : str, path or binary file object
        The file; ``"-"`` reads stdin (at most what an image within the
        pixel limit can take, see :func:`stdin_limit`).
    max_pixels : int or None
        Refuse files whose frames hold more pixels than this in all; None:
        Pillow's limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million).
    integers : bool
        Keep 8-bit images (L, LA, RGB, RGBA, CMYK) as their stored uint8
        values, a quarter of the memory of float32, for a caller that converts
        them a band at a time (:mod:`convtool.pipeline.bands`); other modes
        are read as float as usual.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated, corrupt or too large, or
        holds 16-bit colour and the optional codecs (the ``16bit`` extra) are
        not installed.
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name == STDIO:
            name, source = "<stdin>", _read_stdin(_limit(max_pixels), max_pixels)
        else:
            source = name
    else:
        name = getattr(source, "name", "<stream>")
    try:
        with libtiff_messages(source, name):
            return _read(source, name, max_pixels, integers)
    except ImageReadError as e:
        # Pillow's libtiff lacks some codecs (WebP, JPEG XL...); tifffile has them.
        if _UNCONFIGURED not in str(e):
            raise
        image = deep.read_tiff_eight_bit(source, name, _size_check(name, max_pixels), integers)
        if image is None:
            raise
        return image


#: What libtiff says of a compression it was built without.
_UNCONFIGURED = "support is not configured"


def _read(source, name: str, max_pixels: int | None, integers: bool = False) -> Image:
    try:
        opened = _open(source, name, max_pixels)
    except ImageReadError:  # a PNG with a bad optional chunk, an AVIF too large for libavif
        if deep.tiff_mode(source, name) is not None:  # Pillow opens neither LA;16 nor RGB;F
            return deep.read_tiff(source, name, _size_check(name, max_pixels))
        repaired = recover(source, name, lambda w, h: _check_size(w, h, name, _limit(max_pixels)))
        if repaired is None:
            raise
        source = repaired
        opened = _open(source, name, max_pixels)
    with opened:
        if _is_deep(opened):
            return _read_deep(opened, source, name, max_pixels)
        frames = _read_frames(opened, name, _limit(max_pixels), integers, source)
        if opened.format == "PNG":
            _verify_png(source, name)
            if getattr(opened, "default_image", False) and len(frames) > 1:
                frames[0].info["default_image"] = True  # not part of the animation
        elif opened.format == "JPEG":
            check_jpeg_scan(source, name)
    if frames[0].format == "WEBP" and _webp_is_lossless(source):
        for frame in frames:
            frame.info["lossless"] = True
    first = frames[0]
    first.extra_frames = tuple(frames[1:])
    return first


def _size_check(name: str, max_pixels: int | None):
    limit = _limit(max_pixels)
    return lambda width, height: _check_size(width, height, name, limit)


def _is_deep(im: PILImage.Image) -> bool:
    """True for colour with 16 bits per channel, which Pillow would decode to 8."""
    if im.format == "PPM":
        layout = ppm_layout(im)
        return im.mode == "RGB" and layout is not None and layout[0] > 255
    if im.mode == "CMYK":  # 16-bit CMYK: TIFF only, through tifffile
        return im.format == "TIFF" and sixteen_bits_per_channel(rawmode(im))
    return im.mode in ("RGB", "RGBA") and sixteen_bits_per_channel(rawmode(im))


def _read_deep(opened: PILImage.Image, source, name: str, max_pixels: int | None) -> Image:
    """A 16-bit colour PNG or TIFF that Pillow opened (and would reduce to 8 bits)."""
    if opened.format == "TIFF":
        return deep.read_tiff(source, name, _size_check(name, max_pixels))
    if opened.format == "PPM":
        return deep.read_ppm({}, opened.size, ppm_layout(opened), source, name)
    if opened.format != "PNG":
        msg = (f"{name}: 16-bit {opened.mode} {opened.format} image: convtool reads 16-bit "
               "colour from PNG, TIFF and PPM only, and refuses rather than drop the low bits")
        raise ImageReadError(msg)
    with _decoding(name):
        info = read_info(opened, png_text=False)  # Pillow would decode the pixels to find it
        n_frames = getattr(opened, "n_frames", 1)
    _verify_png(source, name)
    return deep.read_png(info, opened.info.get("transparency"), n_frames, source, name)


def _draft_bytes(data: bytes) -> bytes:
    """The image decoded at 1/8 scale (libjpeg's DCT scaling: cheap)."""
    with PILImage.open(io.BytesIO(data)) as im:
        im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
        return im.tobytes()


def check_jpeg_scan(source, name: str) -> None:
    """Refuse a JPEG whose scan data ends early but is followed by an EOI (see imaging.jpeg)."""
    data = fastdecode.file_bytes(source)
    eoi = final_eoi(data)
    if eoi is None:
        return
    with _decoding(name), _pixel_limit_lifted(), ThreadPoolExecutor(2) as pool:
        # Both at once: libjpeg releases the GIL (12 MP: 33 ms one after the other).
        first, second = pool.map(_draft_bytes, (data, with_filler(data, eoi)))
        complete = first == second
    if not complete:
        msg = f"{name}: cannot decode image (the JPEG scan data ends early: the file is truncated)"
        raise ImageReadError(msg)


def _verify_png(source, name: str) -> None:
    """Refuse a PNG whose chunk checksums are wrong.

    Pillow does not check the CRC of the pixel data (IDAT) while decoding, as
    libpng does; ``verify()`` does.
    """
    if hasattr(source, "seek"):
        source.seek(0)
    with _decoding(name), _pixel_limit_lifted(), PILImage.open(source) as check:
        check.verify()


def _webp_is_lossless(source) -> bool:
    """True when a WebP file's image data (or its first frame's) is VP8L, lossless.

    Pillow does not say, and a lossless input should not come out lossy.
    """
    try:
        with contextlib.ExitStack() as stack:
            f = stack.enter_context(open(source, "rb")) if isinstance(source, str) else source
            f.seek(12)
            for _ in range(64):  # top-level chunks: VP8X, ICCP, ANIM, ALPH, VP8/VP8L, ANMF...
                header = f.read(8)
                if len(header) < 8:
                    return False
                kind, size = header[:4], int.from_bytes(header[4:], "little")
                if kind in (b"VP8L", b"VP8 "):
                    return kind == b"VP8L"
                if kind == b"ANMF":  # a frame: 16 bytes of geometry, then its own chunks
                    f.seek(16, os.SEEK_CUR)
                    continue
                f.seek(size + (size & 1), os.SEEK_CUR)
    except (OSError, ValueError):
        pass
    return False



def _from_pil(im: PILImage.Image, name: str, integers: bool = False, source=None) -> Image:
    """The current frame of an opened (not yet loaded) Pillow image.

    ``source``, the file of a one-frame image, lets :mod:`fastdecode` decode
    plain PNG and JPEG pixels without Pillow.
    """
    source_mode = im.mode
    raw = rawmode(im)
    if source_mode == "I":
        if unsigned_16_bit_grey(raw):  # a 16-bit PGM, say: Pillow opens it as 32-bit
            source_mode = "I;16"
    elif source_mode not in SIXTEEN_BIT_MODES and sixteen_bits_per_channel(raw):
        msg = (f"{name}: 16-bit {source_mode} image: Pillow decodes colour images with 8 bits "
               "per channel, and convtool refuses rather than silently drop the low bits; "
               "16-bit greyscale is supported")
        raise ImageReadError(msg)
    fmt = im.format
    key = colour_key(im)  # before loading: needs the raw mode
    is_tiff = fmt == "TIFF"
    orientation = im.tag_v2.get(ORIENTATION) if is_tiff else None
    if orientation is not None:
        keep_tiff_layout(im)
    fast = fastdecode.decode(im, source) if source is not None and key is None else None
    if fast is not None:
        pixels, text = fast
        info = read_info(im, png_text=False)
        if text:
            info["text"] = text
        return Image(pixels=pixels if integers else unit_scale(pixels, im.mode),
                     mode=im.mode, info=info, format=fmt)
    with _decoding(name), _lifted_for(im):
        im.load()
    tags = None
    if is_tiff:
        with _decoding(name):  # a damaged tag is only a warning to Pillow: refuse it too
            tags = im.getexif()
    info = read_info(im, tags, orientation)
    if source_mode in ("P", "PA"):
        target = "RGBA" if source_mode == "PA" or im.has_transparency_data else "RGB"
        im = im.convert(target)
    elif source_mode in CONVERTED_MODES:
        im = im.convert(CONVERTED_MODES[source_mode])
    mode = "I;16" if source_mode in SIXTEEN_BIT_MODES else im.mode
    if mode not in FULL_SCALE:
        msg = (f"{name}: image mode {source_mode} is not supported (supported: 1, P, L, LA, RGB, "
               "RGBA, CMYK, I;16, I, F)")
        raise ImageReadError(msg)
    pixels = array_from_pil(im, mode, integers and key is None)
    if key is not None:
        pixels, mode = add_key_alpha(pixels, mode, key)
    return Image(pixels=pixels, mode=mode, info=info, format=fmt or None,
                 source_mode=source_mode if source_mode != mode else None)
