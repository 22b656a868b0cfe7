"""Pillow <-> float arrays: reading, modes, bit depth, and safe (atomic) writing.

Pixels travel as float32 arrays of shape ``(H, W, C)``. Integer images are
scaled to 0..1 (8-bit values divided by 255), so options such as a bias mean
the same at every bit depth; writing scales back, rounds to nearest and clips.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from convtool.errors import ImageReadError, ImageWriteError, UsageError

# Modes read and written as they are, with their channel count and full scale.
_DIRECT_MODES = {"L": 255.0, "LA": 255.0, "RGB": 255.0, "RGBA": 255.0}
# Modes filtered as another mode and written back as that mode.
_CONVERTED_MODES = {"P": None, "1": "L"}


@dataclass
class Image:
    """An image as convtool filters it.

    Attributes
    ----------
    pixels : ndarray, shape (H, W, C), float32
        Channel values, 0..1 for integer images.
    mode : str
        Pillow mode the pixels are written back as (``"L"``, ``"RGBA"``, ...).
    info : dict
        Metadata to carry to the output (ICC profile, EXIF, DPI, ...).
    format : str or None
        The format the image was read from, e.g. ``"PNG"``.
    """

    pixels: np.ndarray
    mode: str
    info: dict = field(default_factory=dict)
    format: str | None = None

    @property
    def has_alpha(self) -> bool:
        return self.mode in ("LA", "RGBA", "La", "RGBa", "PA")


def _open(path) -> PILImage.Image:
    name = os.fspath(path)
    if os.path.isdir(name):
        msg = f"{name}: is a folder, not an image file"
        raise ImageReadError(msg)
    try:
        # Pillow reports some damage only as a warning on stderr and goes on
        # (a truncated TIFF strip, a tag past the end of the file, a size
        # between its pixel limit and twice that): refuse such files instead.
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            im = PILImage.open(name)
            try:
                im.load()
                if im.format == "PNG":
                    # Pillow does not check the CRC of the pixel data (IDAT)
                    # while decoding; libpng does. A damaged file is refused.
                    with PILImage.open(name) as check:
                        check.verify()
            except BaseException:
                im.close()
                raise
    except FileNotFoundError:
        msg = f"{name}: no such file"
        raise ImageReadError(msg) from None
    except PermissionError:
        msg = f"{name}: permission denied"
        raise ImageReadError(msg) from None
    except UnidentifiedImageError:
        msg = f"{name}: not an image file Pillow can read"
        raise ImageReadError(msg) from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as e:
        msg = f"{name}: refused as a possible decompression bomb ({e})"
        raise ImageReadError(msg) from None
    except (OSError, SyntaxError, ValueError, UserWarning) as e:
        msg = f"{name}: cannot decode image ({e})"
        raise ImageReadError(msg) from None
    return im


def read_image(path) -> Image:
    """Read an image file into an :class:`Image`.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated or corrupt.
    """
    with _open(path) as opened:
        return _from_pil(opened, path)


def _from_pil(im: PILImage.Image, path) -> Image:
    mode = im.mode
    if mode in _CONVERTED_MODES:
        target = _CONVERTED_MODES[mode]
        if target is None:  # palette: RGB, or RGBA when it has transparency
            target = "RGBA" if im.has_transparency_data else "RGB"
        im = im.convert(target)
        mode = target
    if mode not in _DIRECT_MODES:
        msg = f"{os.fspath(path)}: image mode {mode} is not supported yet"
        raise ImageReadError(msg)
    pixels = np.asarray(im, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    pixels /= np.float32(_DIRECT_MODES[mode])
    info = {k: v for k, v in im.info.items() if k in ("icc_profile", "exif", "dpi")}
    return Image(pixels=pixels, mode=mode, info=info, format=im.format)


def to_pil(image: Image) -> PILImage.Image:
    """Convert float pixels back to a Pillow image of ``image.mode``."""
    scale = _DIRECT_MODES[image.mode]
    data = np.rint(np.clip(image.pixels, 0.0, 1.0) * np.float32(scale)).astype(np.uint8)
    if data.shape[2] == 1:
        data = data[:, :, 0]
    return PILImage.fromarray(data, mode=image.mode)


def output_format(path, format: str | None = None) -> str:
    """The Pillow format to save ``path`` as: ``format`` if given, else from the extension."""
    if format:
        name = format.upper()
        if name == "JPG":
            name = "JPEG"
        if name == "TIF":
            name = "TIFF"
        PILImage.init()
        if name not in PILImage.SAVE:
            msg = f"unknown output format {format!r}"
            raise UsageError(msg)
        return name
    ext = os.path.splitext(os.fspath(path))[1].lower()
    formats = PILImage.registered_extensions()
    if ext not in formats or formats[ext] not in PILImage.SAVE:
        msg = (f"{os.fspath(path)}: cannot tell the output format from the extension "
               f"{ext or '(none)'!r}; use .png, .jpg, .tif, .webp, ... or --format")
        raise UsageError(msg)
    return formats[ext]


def _default_file_mode() -> int:
    # os.umask can only be read by setting it; do that once, at import, while
    # no other thread can be creating files.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_DEFAULT_FILE_MODE = _default_file_mode()


def check_target(path) -> int:
    """Check that ``path`` may be written; return the permission bits it should get.

    An existing output keeps its permission bits. One with no write permission
    at all is refused, for every user including root: someone made it read-only
    to keep it, so convtool does not replace it (unlike ``cp -f``).

    Raises
    ------
    ImageWriteError
        ``path`` is a folder or a read-only file.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _DEFAULT_FILE_MODE
    except OSError as e:
        msg = f"{path}: cannot write ({e.strerror})"
        raise ImageWriteError(msg) from None
    if stat.S_ISDIR(st.st_mode):
        msg = f"{path}: is a folder, not an output file"
        raise ImageWriteError(msg)
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        msg = (f"{path}: the existing output is read-only; convtool does not replace it "
               "(make it writable or remove it first)")
        raise ImageWriteError(msg)
    return stat.S_IMODE(st.st_mode)


def write_image(image: Image, path, *, format: str | None = None) -> None:
    """Write ``image`` to ``path`` atomically.

    The image is saved to a hidden temporary file in the target folder
    (``.convtool-*.tmp``) and renamed over ``path`` only when complete, so a
    failed or interrupted write never leaves a partial file or changes an
    existing one. The output gets the usual permissions for a new file, or
    keeps those of the file it replaces; a read-only output is not replaced.
    """
    path = os.fspath(path)
    fmt = output_format(path, format)
    pil = to_pil(image)
    if fmt == "JPEG" and pil.mode in ("LA", "RGBA"):
        msg = f"{path}: JPEG cannot store an alpha channel; choose PNG, TIFF or WebP"
        raise UsageError(msg)
    folder = os.path.dirname(os.path.abspath(path))
    mode = check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".convtool-", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        msg = f"{path}: the folder {folder} does not exist"
        raise ImageWriteError(msg) from None
    except OSError as e:
        msg = f"{path}: cannot write in {folder} ({e.strerror})"
        raise ImageWriteError(msg) from None
    try:
        # mkstemp makes the file private (0600); give the output the
        # permissions a plain write would have, or keep the replaced file's.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            pil.save(f, format=fmt, **image.info)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            msg = f"{path}: cannot write ({e.strerror or e})"
            raise ImageWriteError(msg) from None
        raise
