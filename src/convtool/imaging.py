"""Pillow <-> float arrays: modes, bit depth, alpha, colour, metadata, safe writes, pipes.

Pixels travel as arrays of shape ``(H, W, C)``. How values are scaled depends
on the image's mode:

=========================  ===========  ==========================================
mode read                  ``mode``     pixels
=========================  ===========  ==========================================
L, LA, RGB, RGBA, CMYK     the same     float32, 8-bit values / 255 (0..1)
P (palette)                RGB / RGBA   float32 0..1; written as RGB/RGBA, or
                                        requantised to P with ``keep_palette``
1 (bilevel)                L            float32 0..1; written as L, or thresholded
                                        back to 1 with ``keep_palette``
I;16, I;16B, ... (16-bit)  I;16         float32, 16-bit values / 65535 (0..1)
I (32-bit integer)         I            float64, raw values (float64 holds every
                                        32-bit integer exactly)
F (32-bit float)           F            float32, raw values (negative, > 1, ...)
=========================  ===========  ==========================================

So options on the 0..1 scale (``cval``, a bias) mean the same at 8 and 16 bits.
Writing scales back, rounds to nearest and clips to the type's range; float
images stay float. Colour images with 16 bits per channel are refused:
Pillow decodes them to 8 bits, and silently dropping the low bits is what this
module exists to prevent.

Alpha (:data:`ALPHA_MODES`) and linear light are pixel operations applied
around a convolution by :func:`filter_space` and :func:`image_space`.

Writes are atomic (a temporary file in the target folder, renamed when
complete); ``"-"`` reads stdin or writes stdout.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import sys
import threading
import warnings
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from convtool.errors import ImageReadError, ImageWriteError, UsageError

AlphaMode = Literal["premultiply", "separate", "ignore"]
#: How the alpha channel takes part in filtering: ``premultiply`` (colour
#: weighted by alpha, so no dark fringes; the default), ``separate`` (every
#: channel filtered on its own) or ``ignore`` (colour filtered, alpha kept).
ALPHA_MODES: tuple[str, ...] = ("premultiply", "separate", "ignore")

#: zlib level convtool writes PNG files with unless told otherwise. Pillow's
#: own default (zlib's 6) takes about 3x as long for ~15% smaller files; see
#: the README ("Image fidelity, pipes and safe writes") for the measurement.
DEFAULT_COMPRESS_LEVEL = 3

STDIO = "-"

# Full scale of integer modes; None: raw values (float images, 32-bit integers).
_SCALE: dict[str, float | None] = {
    "L": 255.0, "LA": 255.0, "RGB": 255.0, "RGBA": 255.0, "CMYK": 255.0,
    "I;16": 65535.0, "I": None, "F": None,
}
_EIGHT_BIT = ("L", "LA", "RGB", "RGBA", "CMYK")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
# Modes Pillow converts losslessly to one of ours.
_CONVERT = {"1": "L", "RGBX": "RGB", "La": "LA", "RGBa": "RGBA", "PA": "RGBA"}
# Modes whose values are gamma-encoded (sRGB), so --linear applies.
_GAMMA_MODES = ("L", "LA", "RGB", "RGBA", "I;16")
# Where each mode can be written, for error messages.
_FORMATS_FOR = {
    "LA": "PNG, TIFF or WebP", "RGBA": "PNG, TIFF or WebP", "CMYK": "JPEG or TIFF",
    "I;16": "PNG or TIFF", "I": "TIFF", "F": "TIFF",
}
_QUALITY_FORMATS = ("JPEG", "WEBP", "AVIF")
_INFO_KEYS = ("icc_profile", "exif", "dpi", "xmp", "duration", "loop", "comment")
# Baseline TIFF tags that are metadata (not layout), carried to and from TIFF files.
_TIFF_META_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)
_ORIENTATION = 0x0112
_ROWS_PER_CHUNK = 128
_pillow_limit_lock = threading.Lock()


@dataclass
class Image:
    """An image as convtool filters it.

    Attributes
    ----------
    pixels : ndarray, shape (H, W, C)
        float32 (float64 for mode ``I``); 0..1 for 8- and 16-bit images,
        raw values for ``I`` and ``F``. See the module docstring.
    mode : str
        Pillow mode the pixels are written back as: ``L``, ``LA``, ``RGB``,
        ``RGBA``, ``CMYK``, ``I;16``, ``I`` or ``F``.
    info : dict
        Metadata to carry to the output: ``icc_profile``, ``exif``, ``dpi``,
        ``xmp``, ``text`` (PNG text chunks), ``duration``, ``loop``, ``comment``,
        ``lossless`` (a lossless WebP input, written lossless to WebP).
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
        return _SCALE.get(self.mode) is not None

    @property
    def has_alpha(self) -> bool:
        """True when the last channel is alpha (modes ``LA`` and ``RGBA``)."""
        return self.mode in ("LA", "RGBA")

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
    """

    format: str | None = None
    quality: int | None = None
    compress_level: int | None = None
    keep_palette: bool = False
    no_clobber: bool = False

    def __post_init__(self):
        if self.quality is not None and not 1 <= self.quality <= 100:
            msg = f"quality must be a whole number from 1 to 100, got {self.quality}"
            raise UsageError(msg)
        if self.compress_level is not None and not 0 <= self.compress_level <= 9:
            msg = f"compress-level must be a whole number from 0 to 9, got {self.compress_level}"
            raise UsageError(msg)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _decoding(name: str):
    """Turn Pillow's many decoding exceptions into one ImageReadError naming the file.

    Pillow reports some damage only as a warning and goes on (a truncated TIFF
    strip, a tag past the end of the file): such files are refused too.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
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
    except PILImage.DecompressionBombError as e:
        msg = f"{name}: refused as a possible decompression bomb ({e})"
        raise ImageReadError(msg) from None
    except (OSError, SyntaxError, ValueError, EOFError, UserWarning) as e:
        msg = f"{name}: cannot decode image ({e})"
        raise ImageReadError(msg) from None


def _read_stdin() -> io.BytesIO:
    stdin = sys.stdin.buffer
    if stdin.isatty():
        msg = "input '-' reads an image from stdin, but stdin is a terminal; pipe an image in"
        raise UsageError(msg)
    data = stdin.read()
    if not data:
        msg = "<stdin>: no data: expected an image on stdin"
        raise ImageReadError(msg)
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


def _open(source, name: str, max_pixels: int | None) -> PILImage.Image:
    if isinstance(source, str) and os.path.isdir(source):
        msg = f"{name}: is a folder, not an image file"
        raise ImageReadError(msg)
    if max_pixels is not None and max_pixels < 1:
        msg = f"max-pixels must be a whole number >= 1, got {max_pixels}"
        raise UsageError(msg)
    limit = PILImage.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    with _decoding(name), _pixel_limit_lifted():
        im = PILImage.open(source)
    width, height = im.size
    if limit is not None and width * height > limit:
        im.close()
        msg = (f"{name}: {width}x{height} is {width * height:,} pixels, more than the limit of "
               f"{limit:,} (Pillow's guard against decompression bombs); if you trust the "
               f"file, raise the limit with --max-pixels {width * height}")
        raise ImageReadError(msg)
    return im


def read_image(source, *, max_pixels: int | None = None) -> Image:
    """Read an image file into an :class:`Image`, every frame of it.

    Parameters
    ----------
    source : str, path or binary file object
        The file; ``"-"`` reads all of stdin.
    max_pixels : int or None
        Refuse images with more pixels than this; None: Pillow's limit
        (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million).

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated, corrupt, too large, or
        holds 16-bit colour (which Pillow would reduce to 8 bits).
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name == STDIO:
            name, source = "<stdin>", _read_stdin()
        else:
            source = name
    else:
        name = getattr(source, "name", "<stream>")
    with _open(source, name, max_pixels) as opened:
        frames = []
        with _decoding(name):  # counting a TIFF's pages reads every page's tags
            count = getattr(opened, "n_frames", 1)
        for index in range(count):
            with _decoding(name):
                opened.seek(index)
            frames.append(_from_pil(opened, name))
        if opened.format == "PNG":
            _verify_png(source, name)
    if frames[0].format == "WEBP" and _webp_is_lossless(source):
        for frame in frames:
            frame.info["lossless"] = True
    first = frames[0]
    first.extra_frames = tuple(frames[1:])
    return first


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


def _rawmode(im: PILImage.Image) -> str:
    if not im.tile:
        return ""
    args = im.tile[0].args
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _keep_tiff_layout(im: PILImage.Image) -> None:
    """Stop Pillow from turning a TIFF upright while loading it.

    Pillow (13.0) swaps a TIFF's size for orientations 5-8 when opening it and
    rotates the pixels when loading, which scrambles them. Every other format
    keeps its stored layout and the tag, and so should TIFF: we take the tag
    out of Pillow's sight before loading (and put it back in ``info``).
    """
    tile_size = getattr(im, "_tile_size", None)
    if tile_size is None:  # a Pillow without this: leave it to Pillow
        return
    im.getexif().pop(_ORIENTATION, None)
    im.tag_v2.pop(_ORIENTATION, None)
    im._size = tile_size


def _from_pil(im: PILImage.Image, name: str) -> Image:
    """The current frame of an opened (not yet loaded) Pillow image."""
    source_mode = im.mode
    if source_mode not in _SIXTEEN_BIT and ";16" in _rawmode(im):
        msg = (f"{name}: 16-bit {source_mode} image: Pillow decodes colour images with 8 bits "
               "per channel, and convtool refuses rather than silently drop the low bits; "
               "16-bit greyscale is supported")
        raise ImageReadError(msg)
    fmt = im.format
    is_tiff = fmt == "TIFF"
    orientation = im.tag_v2.get(_ORIENTATION) if is_tiff else None
    if orientation is not None:
        _keep_tiff_layout(im)
    with _decoding(name):
        im.load()
    info = {k: im.info[k] for k in _INFO_KEYS if k in im.info}
    if fmt == "PNG" and getattr(im, "text", None):
        info["text"] = dict(im.text)
    if is_tiff:
        with _decoding(name):  # a damaged tag is only a warning to Pillow: refuse it too
            tags = im.getexif()
        meta = PILImage.Exif()
        for tag in _TIFF_META_TAGS:
            if tag in tags:
                meta[tag] = tags[tag]
        if orientation is not None:
            meta[_ORIENTATION] = orientation
        if len(meta):
            info["exif"] = meta.tobytes()
    if source_mode in ("P", "PA"):
        target = "RGBA" if source_mode == "PA" or im.has_transparency_data else "RGB"
        im = im.convert(target)
    elif source_mode in _CONVERT:
        im = im.convert(_CONVERT[source_mode])
    mode = "I;16" if source_mode in _SIXTEEN_BIT else im.mode
    if mode not in _SCALE:
        msg = (f"{name}: image mode {source_mode} is not supported (supported: 1, P, L, LA, RGB, "
               "RGBA, CMYK, I;16, I, F)")
        raise ImageReadError(msg)
    pixels = _array_from_pil(im, mode)
    return Image(pixels=pixels, mode=mode, info=info, format=fmt or None,
                 source_mode=source_mode if source_mode != mode else None)


def _array_from_pil(im: PILImage.Image, mode: str) -> np.ndarray:
    raw = np.asarray(im)
    if raw.ndim == 2:
        raw = raw[:, :, np.newaxis]
    if mode == "I":
        return raw.astype(np.float64)
    pixels = raw.astype(np.float32)
    del raw
    scale = _SCALE[mode]
    if scale is not None:
        pixels /= np.float32(scale)
    return pixels


# --------------------------------------------------------------------------
# Pixel operations: alpha and linear light
# --------------------------------------------------------------------------


def _row_chunks(n: int):
    for start in range(0, n, _ROWS_PER_CHUNK):
        yield slice(start, min(start + _ROWS_PER_CHUNK, n))


def _srgb_to_linear_inplace(a: np.ndarray) -> None:
    for rows in _row_chunks(a.shape[0]):
        x = a[rows]
        curve = np.power((np.maximum(x, 0.04045) + 0.055) / 1.055, 2.4, dtype=x.dtype)
        x[...] = np.where(x <= 0.04045, x / 12.92, curve)


def _linear_to_srgb_inplace(a: np.ndarray) -> None:
    for rows in _row_chunks(a.shape[0]):
        x = a[rows]
        curve = 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4, dtype=x.dtype) - 0.055
        x[...] = np.where(x <= 0.0031308, x * 12.92, curve)


def srgb_to_linear(values) -> np.ndarray:
    """Decode sRGB values (0..1) to linear light (IEC 61966-2-1), as a new array.

    Examples
    --------
    >>> round(float(srgb_to_linear(0.5)), 4)
    0.214
    """
    a = np.array(values, dtype=np.result_type(values, np.float32), ndmin=1)
    _srgb_to_linear_inplace(a)
    return a.reshape(np.shape(values))


def linear_to_srgb(values) -> np.ndarray:
    """Encode linear light to sRGB values, the inverse of :func:`srgb_to_linear`."""
    a = np.array(values, dtype=np.result_type(values, np.float32), ndmin=1)
    _linear_to_srgb_inplace(a)
    return a.reshape(np.shape(values))


def premultiply(pixels) -> np.ndarray:
    """Colour channels times alpha (the last channel), as a new array of shape (H, W, C)."""
    out = np.array(pixels)
    out[..., :-1] *= out[..., -1:]
    return out


def _unpremultiply_inplace(a: np.ndarray) -> None:
    for rows in _row_chunks(a.shape[0]):
        colour, alpha = a[rows, ..., :-1], a[rows, ..., -1:]
        covered = alpha > 0
        # Where nothing is covered the colour is undefined: write 0 (transparent black).
        np.divide(colour, np.where(covered, alpha, 1), out=colour)
        colour *= covered


def unpremultiply(pixels) -> np.ndarray:
    """Divide colour channels by alpha (the last channel); colour is 0 where alpha <= 0."""
    out = np.array(pixels)
    _unpremultiply_inplace(out)
    return out


def normalize_alpha(alpha: str) -> str:
    """Return the canonical alpha mode, or raise :class:`UsageError`."""
    name = str(alpha).strip().lower()
    if name not in ALPHA_MODES:
        msg = f"unknown alpha mode {alpha!r}: choose one of {', '.join(ALPHA_MODES)}"
        raise UsageError(msg)
    return name


def filter_space(image: Image, *, alpha: str = "premultiply", linear: bool = False) -> np.ndarray:
    """The array to convolve for ``image``: linear light and premultiplied as asked.

    Returns ``image.pixels`` itself when there is nothing to do; otherwise a
    new array. With ``alpha="ignore"`` only the colour channels are returned.
    :func:`image_space` undoes it after filtering.
    """
    alpha = normalize_alpha(alpha)
    if linear and image.mode not in _GAMMA_MODES:
        msg = (f"--linear applies to sRGB-encoded greyscale and RGB images, not mode {image.mode}"
               " (float and 32-bit values are taken as linear already; CMYK is ink, not light)")
        raise UsageError(msg)
    blend = image.has_alpha and alpha != "separate"
    if not (linear or blend):
        return image.pixels
    colours = image.pixels.shape[2] - 1 if image.has_alpha else image.pixels.shape[2]
    if image.has_alpha and alpha == "ignore":
        work = np.array(image.pixels[..., :colours])
    else:
        work = image.pixels.copy()
    if linear:
        _srgb_to_linear_inplace(work[..., :colours])
    if image.has_alpha and alpha == "premultiply":
        for rows in _row_chunks(work.shape[0]):
            work[rows, ..., :-1] *= work[rows, ..., -1:]
    return work


def image_space(filtered: np.ndarray, image: Image, *, alpha: str = "premultiply",
                linear: bool = False) -> np.ndarray:
    """Undo :func:`filter_space` on the filtered array (in place where it can)."""
    alpha = normalize_alpha(alpha)
    out = filtered
    if image.has_alpha and alpha == "ignore":
        out = np.empty(image.pixels.shape, dtype=filtered.dtype)
        out[..., :-1] = filtered
        out[..., -1] = image.pixels[..., -1]
    elif image.has_alpha and alpha == "premultiply":
        _unpremultiply_inplace(out)
    if linear:
        colours = out.shape[2] - 1 if image.has_alpha else out.shape[2]
        _linear_to_srgb_inplace(out[..., :colours])
    return out


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def output_format(path, format: str | None = None) -> str:
    """The Pillow format to save ``path`` as: ``format`` if given, else from the extension."""
    path = os.fspath(path)
    PILImage.init()
    if format:
        name = format.strip().upper()
        name = {"JPG": "JPEG", "TIF": "TIFF"}.get(name, name)
        if name not in PILImage.SAVE:
            known = ", ".join(sorted(f.lower() for f in PILImage.SAVE))
            msg = f"unknown output format {format!r}: choose one of {known}"
            raise UsageError(msg)
        return name
    if path == STDIO:
        msg = "writing to stdout ('-') needs --format, e.g. --format png"
        raise UsageError(msg)
    ext = os.path.splitext(path)[1].lower()
    formats = PILImage.registered_extensions()
    if ext not in formats or formats[ext] not in PILImage.SAVE:
        msg = (f"{path}: cannot tell the output format from the extension "
               f"{ext or '(none)'!r}; use .png, .jpg, .tif, .webp, ... or --format")
        raise UsageError(msg)
    return formats[ext]


# The extension an output gets for a --format; other formats take Pillow's first one.
_FORMAT_EXTENSIONS = {"JPEG": ".jpg", "TIFF": ".tif", "PNG": ".png", "WEBP": ".webp",
                      "BMP": ".bmp", "GIF": ".gif", "JPEG2000": ".jp2"}


def readable_extensions() -> frozenset[str]:
    """File extensions (lower case, with the dot) of the formats Pillow can read."""
    PILImage.init()
    return frozenset(ext for ext, fmt in PILImage.registered_extensions().items()
                     if fmt in PILImage.OPEN)


def extension_for(fmt: str) -> str:
    """The file extension an output in Pillow format ``fmt`` gets, e.g. ``".jpg"``."""
    if fmt in _FORMAT_EXTENSIONS:
        return _FORMAT_EXTENSIONS[fmt]
    for ext, f in PILImage.registered_extensions().items():
        if f == fmt:
            return ext
    return "." + fmt.lower()


def check_output(path, options: SaveOptions | None = None) -> str:
    """Check before any work that ``path`` can be written with ``options``; return the format.

    Raises :class:`UsageError` for a format that cannot be told or does not
    take the options, and :class:`ImageWriteError` when ``no_clobber`` forbids
    replacing an existing file.
    """
    options = options or SaveOptions()
    path = os.fspath(path)
    fmt = output_format(path, options.format)
    if options.quality is not None and fmt not in _QUALITY_FORMATS:
        msg = (f"--quality applies to JPEG, WebP and AVIF, not {fmt}"
               + ("; PNG takes --compress-level" if fmt == "PNG" else ""))
        raise UsageError(msg)
    if options.compress_level is not None and fmt != "PNG":
        msg = f"--compress-level applies to PNG, not {fmt}"
        raise UsageError(msg)
    if path == STDIO:
        if sys.stdout.isatty():
            msg = "refusing to write image bytes to a terminal: redirect stdout or name a file"
            raise UsageError(msg)
    elif options.no_clobber and os.path.lexists(path):
        msg = f"{path}: already exists; not replaced (--no-clobber)"
        raise ImageWriteError(msg)
    else:
        _check_replaceable(path)
    return fmt


def _check_replaceable(path: str) -> None:
    """Refuse a target that is a folder or a read-only file, before any work.

    A read-only output is refused for every user, root included: someone made
    it read-only to keep it, so convtool does not replace it (unlike ``cp -f``).
    """
    try:
        st = os.stat(path)
    except OSError:
        return  # nothing there to replace; creating the file will say what is wrong
    if stat.S_ISDIR(st.st_mode):
        msg = f"{path}: is a folder, not an output file"
        raise ImageWriteError(msg)
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        msg = (f"{path}: the existing output is read-only; convtool does not replace it "
               "(make it writable or remove it first)")
        raise ImageWriteError(msg)


def _scaled(pixels: np.ndarray, scale: float, dtype) -> np.ndarray:
    """Round ``pixels * scale`` to nearest, clipped to 0..scale, in row chunks (little memory)."""
    out = np.empty(pixels.shape, dtype=dtype)
    for rows in _row_chunks(pixels.shape[0]):
        chunk = np.clip(pixels[rows], 0.0, 1.0)
        chunk *= scale
        np.rint(chunk, out=chunk)
        out[rows] = chunk
    return out


def to_pil(image: Image, *, keep_palette: bool = False) -> PILImage.Image:
    """Convert one frame's pixels back to a Pillow image of ``image.mode``.

    Integer modes are rounded to nearest and clipped to the type's range; ``F``
    stays float. With ``keep_palette``, ``P`` inputs are requantised to at most
    256 colours and ``1`` inputs thresholded at 50%.
    """
    mode, pixels = image.mode, image.pixels
    height, width = pixels.shape[:2]
    if mode in _EIGHT_BIT:
        data = _scaled(pixels, 255.0, np.uint8)
    elif mode == "I;16":
        data = _scaled(pixels, 65535.0, np.dtype("<u2"))
    elif mode == "I":
        info = np.iinfo(np.int32)
        data = np.clip(np.rint(pixels), info.min, info.max).astype(np.int32)
    elif mode == "F":
        data = np.ascontiguousarray(pixels, dtype=np.float32)
    else:
        msg = f"cannot write image mode {mode!r}"
        raise UsageError(msg)
    # frombuffer shares the array's memory where Pillow can, instead of a copy.
    pil = PILImage.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)
    if keep_palette and image.source_mode in ("P", "PA"):
        method = PILImage.Quantize.FASTOCTREE if pil.mode == "RGBA" else None
        pil = pil.quantize(colors=256, method=method, dither=PILImage.Dither.NONE)
    elif keep_palette and image.source_mode == "1":
        pil = pil.convert("1", dither=PILImage.Dither.NONE)
    return pil


def _save_params(image: Image, fmt: str, options: SaveOptions) -> dict:
    info = image.info
    params = {k: info[k] for k in ("icc_profile", "dpi", "xmp", "comment") if k in info}
    if "exif" in info:
        if fmt == "TIFF":
            exif = PILImage.Exif()
            exif.load(info["exif"])
            params["tiffinfo"] = {t: v for t, v in exif.items() if t in _TIFF_META_TAGS}
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
        if any("duration" in f.info for f in frames):
            params["duration"] = [f.info.get("duration", 100) for f in frames]
        if "loop" in info:
            params["loop"] = info["loop"]
    return params


def _encode(image: Image, fp, fmt: str, options: SaveOptions, name: str) -> None:
    frames = image.frames
    PILImage.init()
    if len(frames) > 1 and fmt not in PILImage.SAVE_ALL:
        msg = (f"{name}: the input has {len(frames)} frames but {fmt} holds one; write "
               "GIF, WebP, PNG (APNG) or TIFF to keep them all")
        raise UsageError(msg)
    pils = [to_pil(f, keep_palette=options.keep_palette) for f in frames]
    first = pils[0]
    if fmt == "JPEG" and first.mode in ("LA", "RGBA"):
        msg = f"{name}: JPEG cannot store an alpha channel; choose PNG, TIFF or WebP"
        raise UsageError(msg)
    params = _save_params(image, fmt, options)
    if len(pils) > 1:
        params["append_images"] = pils[1:]
    try:
        first.save(fp, format=fmt, **params)
    except (OSError, KeyError, ValueError) as e:
        if isinstance(e, KeyError) or "cannot write mode" in str(e):
            where = _FORMATS_FOR.get(first.mode)
            msg = (f"{name}: {fmt} cannot store mode {first.mode} images"
                   + (f"; choose {where}" if where else ""))
            raise UsageError(msg) from None
        raise


def encode_image(image: Image, options: SaveOptions | None = None) -> bytes:
    """Encode ``image`` (every frame) to bytes in ``options.format``."""
    options = options or SaveOptions()
    fmt = output_format(STDIO, options.format)
    buffer = io.BytesIO()
    _encode(image, buffer, fmt, options, "<output>")
    return buffer.getvalue()


# An output is written to a hidden file named so, then renamed into place.
TEMP_PREFIX, TEMP_SUFFIX = ".convtool-", ".tmp"
TEMP_PATTERN = f"{TEMP_PREFIX}*{TEMP_SUFFIX}"


def _temp_names(folder: str):
    """Candidate names for the hidden temporary file of an output in ``folder``."""
    for _ in range(100):
        yield os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")


def _create_temp(tmp: str, folder: str, path: str) -> int:
    """Create ``tmp`` exclusively; raises FileExistsError to try another name.

    Not tempfile.mkstemp: its files are private (0600), where a new output
    should get the usual permissions (0666 less the umask), as cp gives.
    """
    try:
        return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                       0o666)
    except FileNotFoundError:
        msg = f"{path}: the folder {folder} does not exist"
        raise ImageWriteError(msg) from None
    except FileExistsError:
        raise
    except OSError as e:
        msg = f"{path}: cannot write in {folder} ({e.strerror or e})"
        raise ImageWriteError(msg) from None


def _publish(tmp: str, path: str, no_clobber: bool) -> None:
    """Move the finished temporary file to ``path`` in one step."""
    if no_clobber:
        try:
            os.link(tmp, path)  # fails if path exists, even if it appeared meanwhile
        except FileExistsError:
            msg = f"{path}: already exists; not replaced (--no-clobber)"
            raise ImageWriteError(msg) from None
        except OSError:  # no hard links on this file system
            if os.path.lexists(path):
                msg = f"{path}: already exists; not replaced (--no-clobber)"
                raise ImageWriteError(msg) from None
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
        return
    with contextlib.suppress(OSError):  # an existing output keeps its permissions
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
    os.replace(tmp, path)


def write_image(image: Image, path, options: SaveOptions | None = None, *,
                format: str | None = None) -> None:
    """Write ``image`` (every frame, with its metadata) to ``path`` atomically.

    The image is encoded into a hidden temporary file in the target folder
    (``.convtool-*.tmp``) and renamed over ``path`` only when complete, so a
    failed or interrupted write never leaves a partial file or changes an
    existing one. ``path`` may be the file the image was read from. ``"-"``
    encodes in memory, then writes the bytes to stdout in one go.

    Parameters
    ----------
    image : Image
    path : str or path
    options : SaveOptions, optional
    format : str, optional
        Overrides ``options.format``.

    Raises
    ------
    UsageError
        The format cannot be told, or cannot store this image (alpha in JPEG,
        16-bit in JPEG, several frames in JPEG, ...).
    ImageWriteError
        The folder is missing or unwritable, the disk is full, or
        ``no_clobber`` forbids replacing an existing file.
    """
    options = options or SaveOptions()
    if format:
        options = replace(options, format=format)
    path = os.fspath(path)
    fmt = check_output(path, options)
    if path == STDIO:
        buffer = io.BytesIO()
        _encode(image, buffer, fmt, options, "<stdout>")
        try:
            sys.stdout.buffer.write(buffer.getvalue())
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            msg = "<stdout>: the reading end of the pipe was closed"
            raise ImageWriteError(msg) from None
        return
    folder = os.path.dirname(os.path.abspath(path))
    # The temporary file's name is known before the file exists, so that an
    # interrupt (Ctrl-C) arriving at any moment after its creation removes it.
    tmp = None
    try:
        for name in _temp_names(folder):
            tmp = name  # ours as soon as it exists, even if an interrupt comes first
            try:
                fd = _create_temp(name, folder, path)
            except FileExistsError:  # another run's file (64 random bits: hardly ever)
                tmp = None
                continue
            break
        else:
            msg = f"{path}: cannot create a temporary file in {folder}"
            raise ImageWriteError(msg)
        with os.fdopen(fd, "w+b") as f:  # multi-page TIFF reads back what it wrote
            _encode(image, f, fmt, options, path)
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, path, options.no_clobber)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            msg = f"{path}: cannot write ({e.strerror or e})"
            raise ImageWriteError(msg) from None
        raise
