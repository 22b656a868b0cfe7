"""Output formats: which format a path is written in, its extension, what it can hold."""

from __future__ import annotations

import os
import stat
import sys

from PIL import Image as PILImage

from convtool.errors import ImageWriteError, UsageError
from convtool.imaging.choices import (
    EXTRA_EXTENSIONS,
    FORMAT_ALIASES,
    FORMAT_EXTENSIONS,
    PLUGIN_FORMATS,
    QUALITY_FORMATS,
    STDIO,
)
from convtool.imaging.model import SaveOptions


def output_format(path, format: str | None = None) -> str:
    """The Pillow format to save ``path`` as: ``format`` if given, else from the extension.

    Examples
    --------
    >>> output_format("out.JPG"), output_format("-", "tif")
    ('JPEG', 'TIFF')
    """
    path = os.fspath(path)
    if format:
        name = format.strip().upper()
        name = FORMAT_ALIASES.get(name, name)
        if name not in _save_formats(name):
            known = ", ".join(sorted(f.lower() for f in PILImage.SAVE))
            msg = f"unknown output format {format!r}: choose one of {known}"
            raise UsageError(msg)
        return name
    if path == STDIO:
        msg = "writing to stdout ('-') needs format, e.g. format png"
        raise UsageError(msg, params=("format",))
    ext = os.path.splitext(path)[1].lower()
    formats = {**EXTRA_EXTENSIONS, **_extensions(ext)}
    writable = ext in formats and formats[ext] in _save_formats(formats[ext])
    if ext in PLUGIN_FORMATS and not writable:
        msg = (f"{path}: {PLUGIN_FORMATS[ext]} is not supported by this install; "
               "use .png, .jpg, .tif, .webp, ... or install the plugin")
        raise UsageError(msg)
    if not writable:
        msg = (f"{path}: cannot tell which image type to write from the extension "
               f"{ext or '(none)'!r}; use .png, .jpg, .tif, .webp, ... or pass format")
        raise UsageError(msg, params=("format",))
    return formats[ext]


# Pillow's preinit() registers only BMP, GIF, JPEG, PPM and PNG; init() imports
# every other plugin too (~40 modules, 30-100 ms of a small image's run). Both
# are public API, as are the registries they fill (Image.EXTENSION, Image.SAVE):
# the common formats are found after preinit(), anything else after init().


def _extensions(ext: str) -> dict:
    PILImage.preinit()
    if ext not in PILImage.EXTENSION:
        PILImage.init()
    return PILImage.EXTENSION


def _save_formats(name: str) -> dict:
    PILImage.preinit()
    if name not in PILImage.SAVE:
        PILImage.init()
    return PILImage.SAVE


def readable_extensions() -> frozenset[str]:
    """File extensions (lower case, with the dot) of the formats Pillow can read."""
    PILImage.init()
    return frozenset(ext for ext, fmt in PILImage.registered_extensions().items()
                     if fmt in PILImage.OPEN) | frozenset(EXTRA_EXTENSIONS)


def extension_for(fmt: str) -> str:
    """The file extension an output in Pillow format ``fmt`` gets, e.g. ``".jpg"``.

    Examples
    --------
    >>> extension_for("JPEG"), extension_for("PNG")
    ('.jpg', '.png')
    """
    if fmt in FORMAT_EXTENSIONS:
        return FORMAT_EXTENSIONS[fmt]
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
    _check_extension_agrees(path, fmt, options.format)
    if options.quality is not None and fmt not in (*QUALITY_FORMATS, "TIFF"):
        msg = (f"quality applies to JPEG, WebP, AVIF and JPEG-compressed TIFF, not {fmt}"
               + ("; PNG takes compress_level" if fmt == "PNG" else ""))
        raise UsageError(msg, params=("quality", "compress_level"))
    if options.quality is not None and options.compression not in (None, "jpeg"):
        msg = (f"quality applies to TIFF only when it is JPEG-compressed, not with "
               f"compression {options.compression}")
        raise UsageError(msg, params=("quality", "compression"))
    if options.compression is not None and fmt != "TIFF":
        msg = (f"compression applies to TIFF, not {fmt}"
               + ("; PNG takes compress_level" if fmt == "PNG" else ""))
        raise UsageError(msg, params=("compression", "compress_level"))
    if options.compress_level is not None and fmt != "PNG":
        msg = f"compress_level applies to PNG, not {fmt}"
        raise UsageError(msg, params=("compress_level",))
    if path == STDIO:
        if sys.stdout is None:
            msg = "<stdout>: standard output is closed; redirect it or name an output file"
            raise ImageWriteError(msg)
        if sys.stdout.isatty():
            msg = "refusing to write image bytes to a terminal: redirect stdout or name a file"
            raise UsageError(msg)
    elif options.no_clobber and os.path.lexists(path):
        msg = f"{path}: already exists; not replaced (no_clobber)"
        raise ImageWriteError(msg, params=("no_clobber",))
    else:
        _check_replaceable(path)
    return fmt


def _check_extension_agrees(path: str, fmt: str, format: str | None) -> None:
    """Refuse ``--format jpg`` into ``o.png``: JPEG bytes under a PNG name mislead every viewer.

    An extension that names no format (``.out``, none) takes any ``--format``.
    """
    if not format or path == STDIO:
        return
    ext = os.path.splitext(path)[1].lower()
    named = PILImage.registered_extensions().get(ext)
    if named is not None and named != fmt:
        msg = (f"{path}: --format {format} writes {fmt}, but the extension {ext} means "
               f"{named}; change the extension to {extension_for(fmt)} or leave out --format")
        raise UsageError(msg)


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
    refuse_special(path, st.st_mode)
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        msg = (f"{path}: the existing output is read-only; convtool does not replace it "
               "(make it writable or remove it first)")
        raise ImageWriteError(msg)


def special_kind(mode: int) -> str | None:
    """What a file of ``mode`` is when convtool must not write it: None for files,
    character devices and FIFOs (written directly), else "block device", "socket", ..."""
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def refuse_special(path: str, mode: int) -> None:
    """Refuse an output that is a block device, a socket or another special file."""
    kind = special_kind(mode)
    if kind is not None and not stat.S_ISDIR(mode):
        msg = (f"{path}: is a {kind}, not a regular file; convtool writes files, character "
               "devices (such as /dev/null) and FIFOs")
        raise ImageWriteError(msg)


# Why each limit of FORMAT_LIMITS refuses, and where the image can go instead.
_LIMIT_REASONS = {
    "alpha": ("cannot store an alpha channel", "PNG, TIFF or WebP"),
    "deep": ("holds 8 bits per channel", "PNG or TIFF"),
    "cmyk": ("cannot store CMYK", "JPEG or TIFF"),
}

# The conversion the user can ask for instead (SaveOptions fields; the CLI's flags).
_LIMIT_OPTIONS = {
    "alpha": ("background COLOR to flatten it", ("background",)),
    "deep": ("depth 8 to write 8 bits per channel", ("depth",)),
}


def _limits_hit(mode: str) -> set[str]:
    from convtool.imaging.model import FULL_SCALE

    hit = set()
    if mode in ("LA", "RGBA", "LA;16", "RGBA;16"):
        hit.add("alpha")
    if FULL_SCALE.get(mode, 255.0) != 255.0:
        hit.add("deep")
    if mode in ("CMYK", "CMYK;16"):
        hit.add("cmyk")
    return hit


def check_can_hold(image, fmt: str, name: str) -> None:
    """Refuse to write ``image`` as ``fmt`` if the format would silently lose part of it.

    Alpha in BMP or PPM, 16-bit or float values in WebP, AVIF or GIF, CMYK in
    WebP, AVIF or GIF (:data:`~convtool.imaging.choices.FORMAT_LIMITS`), and
    frames of different sizes in any format but TIFF and MPO. Conversions the user asks
    for are applied before this check, which then sees their result.

    Raises
    ------
    UsageError
        One line naming the format, what it cannot hold and where it fits.
    """
    from convtool.imaging.choices import FORMAT_LIMITS, FORMATS_FOR_MODE, PAGED_FORMATS

    frames = image.frames
    for limit in FORMAT_LIMITS.get(fmt, ()):
        if limit in _limits_hit(image.mode):
            reason, where = _LIMIT_REASONS[limit]
            if limit == "deep":  # where this mode fits at its depth (CMYK;16: TIFF alone)
                where = FORMATS_FOR_MODE.get(image.mode, where)
            detail = f" (this image is mode {image.mode})" if limit == "deep" else ""
            option, params = _LIMIT_OPTIONS.get(limit, ("", ()))
            if limit == "deep" and image.mode == "I":  # 32-bit integers have no 8-bit scale
                option, params = "", ()
            msg = (f"{name}: {fmt} {reason}{detail}; convtool refuses rather than drop it: "
                   f"choose {where}" + (f", or add {option}" if option else ""))
            raise UsageError(msg, params=params)
    if fmt not in PAGED_FORMATS:
        _check_frame_modes(frames, fmt, name)
    sizes = {f.pixels.shape[:2] for f in frames}
    if len(sizes) > 1 and fmt not in PAGED_FORMATS:
        shown = ", ".join(f"{w}x{h}" for h, w in sorted(sizes)[:3])
        msg = (f"{name}: the {len(frames)} pages have different sizes ({shown}) and {fmt} "
               "frames share one size; write TIFF to keep them all")
        raise UsageError(msg)


_WHAT_IS_LOST = {"alpha": "alpha channel", "deep": "values beyond 8 bits", "cmyk": "CMYK"}


def _check_frame_modes(frames, fmt: str, name: str) -> None:
    """An animation's frames share the first frame's mode: refuse when that loses a later one's.

    A multi-page TIFF may mix an 8-bit page with a float one (Pillow's
    no_rows_per_strip.tif: P, F, L); as a GIF, WebP or APNG the float page
    would be rounded to 8 bits without a word.
    """
    first = frames[0].mode
    kept = _limits_hit(first)
    for index, frame in enumerate(frames[1:], start=2):
        lost = (_limits_hit(frame.mode) - kept) if frame.mode != first else set()
        if frame.mode != first and frame.mode in ("F", "I"):
            lost.add("deep")
        if lost:
            msg = (f"{name}: frame {index} is mode {frame.mode} but frame 1 is {first}, and "
                   f"{fmt} gives every frame the first one's mode, which would drop its "
                   f"{' and '.join(_WHAT_IS_LOST[k] for k in sorted(lost))}; write TIFF to keep "
                   "each page as it is")
            raise UsageError(msg)
