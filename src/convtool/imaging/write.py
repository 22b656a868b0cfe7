"""Writing: encode an :class:`Image` and publish it atomically, or to stdout."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import sys
from dataclasses import replace

import numpy as np
from PIL import Image as PILImage

from convtool.errors import ImageWriteError, UsageError
from convtool.imaging import deep, png_encode
from convtool.imaging._codecs import quiet_stderr
from convtool.imaging.choices import FORMATS_FOR_MODE, STDIO, TEMP_PREFIX, TEMP_SUFFIX
from convtool.imaging.colour import row_chunks
from convtool.imaging.convert import prepare
from convtool.imaging.encoder import pillow_params
from convtool.imaging.formats import check_can_hold, check_output, output_format, refuse_special
from convtool.imaging.gif import gif_frames
from convtool.imaging.metadata import save_params
from convtool.imaging.model import DEEP_MODES, EIGHT_BIT_MODES, Image, SaveOptions
from convtool.imaging.multi import frames_for
from convtool.imaging.tiffpages import tiff_pages_bytes

# Pillow modes with more than 8 bits per channel that depth 8 reduces.
_DEEPER_THAN_8 = ("I;16", "F")


def _scaled(pixels: np.ndarray, scale: float, dtype) -> np.ndarray:
    """Round ``pixels * scale`` to nearest, clipped to 0..scale, in row chunks (little memory)."""
    out = np.empty(pixels.shape, dtype=dtype)
    for rows in row_chunks(pixels.shape[0]):
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
    mode = image.mode
    height, width = image.pixels.shape[:2]
    data = _pixel_data(image)
    # frombuffer shares the array's memory where Pillow can, instead of a copy.
    pil = PILImage.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)
    if keep_palette and image.source_mode in ("P", "PA"):
        method = PILImage.Quantize.FASTOCTREE if pil.mode == "RGBA" else None
        pil = pil.quantize(colors=256, method=method, dither=PILImage.Dither.NONE)
    elif keep_palette and image.source_mode == "1":
        pil = pil.convert("1", dither=PILImage.Dither.NONE)
    return pil


def _pixel_data(image: Image) -> np.ndarray:
    """One frame's pixels as the array type of its mode: rounded, clipped integers or float."""
    mode, pixels = image.mode, image.pixels
    if mode in EIGHT_BIT_MODES and pixels.dtype == np.uint8:  # already quantised (bands)
        return pixels
    if mode in EIGHT_BIT_MODES:
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
    return data


def _encode(image: Image, fp, fmt: str, options: SaveOptions, name: str) -> None:
    image, fmt = frames_for(image, fmt)  # APNG default image, MPO pictures
    image = prepare(image, options)  # background, depth 8
    frames = image.frames
    if len(frames) > 1:
        PILImage.init()  # the formats that hold several frames are known after init()
    if len(frames) > 1 and fmt not in PILImage.SAVE_ALL:
        msg = (f"{name}: the input has {len(frames)} frames but {fmt} holds one; write "
               "GIF, WebP, PNG (APNG) or TIFF to keep them all")
        raise UsageError(msg)
    check_can_hold(image, fmt, name)
    if fmt == "PNG" and _fast_png(image, fp, options):
        return
    if image.mode in DEEP_MODES:
        _encode_deep(image, fp, fmt, options, name)
        return
    pils = [to_pil(f, keep_palette=options.keep_palette) for f in frames]
    first = pils[0]
    if fmt == "JPEG" and first.mode in ("LA", "RGBA"):
        msg = (f"{name}: JPEG cannot store an alpha channel; choose PNG, TIFF or WebP, "
               "or flatten it with background COLOR")
        raise UsageError(msg, params=("background",))
    params = save_params(image, fmt, options)
    params.update(pillow_params(image, fmt, first.mode, options, name))
    _check_icon_formats(fmt, first, name, params)
    if fmt == "GIF":
        pils, gif_params = gif_frames(pils)
        first = pils[0]
        params.update(gif_params)
    try:
        # libjpeg and libtiff print warnings of their own (a kept 16-bit JPEG table is
        # "too coarse for baseline JPEG"): keep them off the terminal.
        with quiet_stderr():
            data = tiff_pages_bytes(pils, params) if fmt == "TIFF" and len(pils) > 1 else None
            if data is not None:  # pages laid end to end, linear in their count
                fp.write(data)
                return
            if len(pils) > 1:
                params["append_images"] = pils[1:]
            first.save(fp, format=fmt, **params)
    except OSError as e:
        if e.errno is not None:
            raise  # the disk or the stream, not the encoder: the caller reports it
        raise _encoder_refusal(e, first.mode, fmt, name) from None
    except _ENCODER_REFUSALS as e:  # other exceptions are bugs, reported as such
        raise _encoder_refusal(e, first.mode, fmt, name) from None


def _encode_deep(image: Image, fp, fmt: str, options: SaveOptions, name: str) -> None:
    """16-bit colour or float RGB, beside Pillow; encoder errors refused as Pillow's are."""
    try:
        deep.write(image, fp, fmt, options, save_params(image, fmt, options), name)
    except UsageError:
        raise
    except (*_ENCODER_REFUSALS, RuntimeError) as e:  # Pillow (a bad EXIF), imagecodecs
        raise _encoder_refusal(e, image.mode, fmt, name) from None


# What Pillow's encoders raise for an image or metadata their format cannot take
# (struct.error: a number too large for its field, e.g. an EXIF rational).
# RuntimeError: libavif's "Failed to finish encoding" (out of memory for a large animation).
_ENCODER_REFUSALS = (KeyError, ValueError, TypeError, IndexError, EOFError, SyntaxError,
                     OverflowError, RuntimeError, struct.error)


def _encoder_refusal(e: Exception, mode: str, fmt: str, name: str) -> UsageError:
    """One line saying that (and why) Pillow's ``fmt`` encoder refused the image."""
    if isinstance(e, KeyError) or "cannot write mode" in str(e):
        if mode in _DEEPER_THAN_8:
            return deep.refuse_format(mode, fmt, name)
        where = FORMATS_FOR_MODE.get(mode)
        msg = (f"{name}: {fmt} cannot store mode {mode} images"
               + (f"; choose {where}" if where else ""))
    else:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        msg = f"{name}: the {fmt} encoder cannot write this image ({reason})"
    return UsageError(msg)


# Icon formats Pillow would silently resize to its own list of sizes.
_ICO_MAX_SIDE = 256
_ICNS_SIDE = 1024


def _check_icon_formats(fmt: str, first: PILImage.Image, name: str, params: dict) -> None:
    """Refuse what ICO, ICNS and BLP cannot store as it is, instead of resizing or failing."""
    width, height = first.size
    if fmt == "ICO":
        if max(width, height) > _ICO_MAX_SIDE:
            msg = (f"{name}: ICO icons are at most {_ICO_MAX_SIDE}x{_ICO_MAX_SIDE}; this image is "
                   f"{width}x{height}: resize it first, or write PNG")
            raise UsageError(msg)
        params["sizes"] = [(width, height)]  # this size only, not Pillow's 16..256 squares
    elif fmt == "ICNS" and (width, height) != (_ICNS_SIDE, _ICNS_SIDE):
        msg = (f"{name}: ICNS icon sets are made by resizing a {_ICNS_SIDE}x{_ICNS_SIDE} image; "
               f"this image is {width}x{height}: resize it first, or write PNG")
        raise UsageError(msg)
    elif fmt == "BLP" and first.mode != "P":
        msg = (f"{name}: BLP stores palette images only; this image is {first.mode}: write "
               "PNG, or use --keep-palette with a palette input")
        raise UsageError(msg)


def _fast_png(image: Image, fp, options: SaveOptions) -> bool:
    """Write ``image`` with :mod:`~convtool.imaging.png_encode` when it can; False if not."""
    keeps_palette = options.keep_palette and image.source_mode in ("P", "PA", "1")
    if keeps_palette or not png_encode.can_write(image.mode, len(image.frames)):
        return False
    png_encode.write_png(fp, _pixel_data(image), image.mode, save_params(image, "PNG", options))
    return True


def encode_image(image: Image, options: SaveOptions | None = None) -> bytes:
    """Encode ``image`` (every frame) to bytes in ``options.format``."""
    options = options or SaveOptions()
    fmt = output_format(STDIO, options.format)
    buffer = io.BytesIO()
    _encode(image, buffer, fmt, options, "<output>")
    return buffer.getvalue()


def _temp_names(folder: str):
    """Candidate names for the hidden temporary file of an output in ``folder``."""
    for _ in range(100):
        yield os.path.join(folder, f"{TEMP_PREFIX}{os.urandom(8).hex()}{TEMP_SUFFIX}")


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
            msg = f"{path}: already exists; not replaced (no_clobber)"
            raise ImageWriteError(msg, params=("no_clobber",)) from None
        except OSError:  # no hard links on this file system
            if os.path.lexists(path):
                msg = f"{path}: already exists; not replaced (no_clobber)"
                raise ImageWriteError(msg, params=("no_clobber",)) from None
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
        return
    with contextlib.suppress(FileNotFoundError):  # never replace a special file by rename
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            refuse_special(path, mode)
            msg = f"{path}: is not a regular file any more; not replaced"
            raise ImageWriteError(msg)
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
        _write_stdout(image, fmt, options)
    else:
        _write_file(image, path, fmt, options)


_WRITE_CHUNK = 1 << 20


def _write_all(fd: int, data: bytes, name: str) -> None:
    """Write every byte to ``fd``; a short write or a reader that leaves is an error.

    A pipe whose reader exits mid-image makes write() return short, then
    fail: Python's buffered writer can end that silently with exit 0.
    """
    view, done = memoryview(data), 0
    while done < len(view):
        try:
            done += os.write(fd, view[done:done + _WRITE_CHUNK])
        except BrokenPipeError:
            msg = f"{name}: the reader closed the pipe after {done:,} of {len(view):,} bytes"
            raise ImageWriteError(msg) from None
        except OSError as e:
            msg = f"{name}: cannot write ({e.strerror or e})"
            raise ImageWriteError(msg) from None


def _encoded(image: Image, fmt: str, options: SaveOptions, name: str) -> bytes:
    buffer = io.BytesIO()
    _encode(image, buffer, fmt, options, name)
    return buffer.getvalue()


def _write_stdout(image: Image, fmt: str, options: SaveOptions) -> None:
    """Encode in memory, then write every byte to stdout."""
    data = _encoded(image, fmt, options, "<stdout>")
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (tests)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    _write_all(fd, data, "<stdout>")


def _write_direct(image: Image, path: str, fmt: str, options: SaveOptions) -> None:
    """A character device or FIFO: nothing to make atomic, and never to be replaced."""
    data = _encoded(image, fmt, options, path)
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        msg = f"{path}: cannot write ({e.strerror or e})"
        raise ImageWriteError(msg) from None
    try:
        _write_all(fd, data, path)
    finally:
        os.close(fd)


def _write_file(image: Image, path: str, fmt: str, options: SaveOptions) -> None:
    """Encode into a hidden temporary file next to ``path``, then publish it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        _write_direct(image, path, fmt, options)
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
