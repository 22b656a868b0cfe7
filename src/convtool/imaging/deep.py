"""16-bit colour and float RGB: read and written without loss, beside Pillow.

Pillow holds colour with 8 bits per channel. RGB, RGBA and grey + alpha at 16
bits per channel (PNG and TIFF) and float RGB (TIFF) are read here into the
modes of :data:`~convtool.imaging.model.DEEP_MODES` and written back the same:
PNG pixels through libpng (:mod:`~convtool.imaging.png16`), TIFF through
tifffile (:mod:`~convtool.imaging.tiff`), PPM by :mod:`~convtool.imaging.ppm16`.
Metadata is Pillow's for PNG and the same tags as Pillow's for TIFF, so it
survives as for 8-bit files.
"""

from __future__ import annotations

import contextlib
import struct

import numpy as np

from convtool.errors import ImageReadError, UsageError
from convtool.imaging import apng16, png16, ppm16, tiff
from convtool.imaging.choices import FORMATS_FOR_MODE
from convtool.imaging.colour import row_chunks
from convtool.imaging.encoder import check_tiff_quality, tiff_compression
from convtool.imaging.model import ALPHA_CHANNEL_MODES, FULL_SCALE, Image, SaveOptions

_PNG_MODES = {2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}
# What the codecs raise for a damaged file (tifffile: ValueError; imagecodecs: RuntimeError).
_DECODE_ERRORS = (ValueError, RuntimeError, OSError, EOFError, IndexError, KeyError,
                  struct.error)


@contextlib.contextmanager
def _decoding(name: str):
    try:
        yield
    except ImageReadError:
        raise
    except _DECODE_ERRORS as e:
        msg = f"{name}: cannot decode image ({e})"
        raise ImageReadError(msg) from None


def _read_bytes(source) -> bytes:
    if isinstance(source, str):
        with open(source, "rb") as f:
            return f.read()
    source.seek(0)
    return source.read()


def _to_unit(raw: np.ndarray, mode: str) -> np.ndarray:
    """uint16 (or float) pixels as convtool holds them: float32, 0..1 for 16-bit."""
    pixels = raw.astype(np.float32)
    del raw
    scale = FULL_SCALE[mode]
    if scale is not None:
        for rows in row_chunks(pixels.shape[0]):
            pixels[rows] /= np.float32(scale)
    return pixels


def read_png(info: dict, transparency, n_frames: int, source, name: str) -> Image:
    """A 16-bit colour PNG whose metadata Pillow read (``info``); pixels through libpng.

    ``transparency`` is the RGB key colour of a ``tRNS`` chunk, or None: pixels
    of that colour become transparent (the image is read as ``RGBA;16``).
    """
    with _decoding(name):
        data = _read_bytes(source)
        raws = apng16.decode(data, name) if n_frames > 1 else [png16.decode(data, name)]
    text = png16.text_chunks(data)
    if text:
        info = {**info, "text": text}
    infos = [info] + [{} for _ in raws[1:]]
    if n_frames > 1:
        infos = _animation_infos(data, info, len(raws))
    frames = [_png_frame(raw, transparency, frame_info, name)
              for raw, frame_info in zip(raws, infos, strict=True)]
    first = frames[0]
    first.extra_frames = tuple(frames[1:])
    return first


def _animation_infos(data: bytes, info: dict, count: int) -> list[dict]:
    """Each frame's info: its duration; the loop count and default image on the first."""
    durations, loop, default_image = apng16.timing(data)
    infos = [{} for _ in range(count)]
    infos[0] = {k: v for k, v in info.items() if k not in ("duration", "default_image")}
    if loop is not None:
        infos[0]["loop"] = loop
    if default_image:
        infos[0]["default_image"] = True
    shown = infos[1:] if default_image else infos
    for frame_info, duration in zip(shown, durations, strict=False):
        frame_info["duration"] = duration
    return infos


def _png_frame(raw: np.ndarray, transparency, info: dict, name: str) -> Image:
    if raw.shape[2] == 3 and isinstance(transparency, tuple) and len(transparency) == 3:
        key = np.all(raw == np.asarray(transparency, dtype=raw.dtype), axis=-1)
        alpha = np.where(key, 0, 65535).astype(raw.dtype)[..., np.newaxis]
        raw = np.concatenate([raw, alpha], axis=-1)
    mode = _PNG_MODES.get(raw.shape[2])
    if mode is None:
        msg = f"{name}: a 16-bit PNG with {raw.shape[2]} channels is not supported"
        raise ImageReadError(msg)
    return Image(pixels=_to_unit(raw, mode), mode=mode, info=info, format="PNG")


def read_ppm(info: dict, size: tuple[int, int], layout: tuple[int, int, bool], source,
             name: str) -> Image:
    """A PPM with more than 8 bits per channel (``layout``: maximum value, offset, plain)."""
    maxval, offset, plain = layout
    with _decoding(name):
        pixels = ppm16.decode(_read_bytes(source), *size, maxval, offset, plain)
    return Image(pixels=pixels, mode="RGB;16", info=info, format="PPM")


def tiff_mode(source, name: str) -> str | None:
    """The deep mode of a TIFF's first page, or None (not deep, or not a TIFF tifffile reads)."""
    # Only a probe, after Pillow failed: whatever goes wrong (a missing, truncated or
    # damaged file), Pillow's own error is the one reported.
    with contextlib.suppress(Exception):
        if tiff.is_tiff(_read_head(source)):
            return tiff.deep_mode(_rewound(source), name)
    return None


def _read_head(source) -> bytes:
    if isinstance(source, str):
        with open(source, "rb") as f:
            return f.read(4)
    source.seek(0)
    head = source.read(4)
    source.seek(0)
    return head


def _rewound(source):
    if not isinstance(source, str):
        source.seek(0)
    return source


def read_tiff(source, name: str, check_size) -> Image:
    """Every page of a 16-bit or float colour TIFF; ``check_size(w, h)`` refuses huge ones."""
    with _decoding(name):
        pages = tiff.read(_rewound(source), name, check_size)
    frames = [Image(pixels=_to_unit(raw, mode), mode=mode, info=info, format="TIFF")
              for raw, mode, info in pages]
    first = frames[0]
    first.extra_frames = tuple(frames[1:])
    return first


def read_tiff_eight_bit(source, name: str, check_size, integers: bool) -> Image | None:
    """An 8-bit TIFF whose compression Pillow's libtiff lacks, through tifffile; or None."""
    with _decoding(name):
        pages = tiff.read_eight_bit(_rewound(source), name, check_size)
    if pages is None:
        return None
    frames = [Image(pixels=raw if integers else _to_unit(raw, mode), mode=mode, info=info,
                    format="TIFF") for raw, mode, info in pages]
    first = frames[0]
    first.extra_frames = tuple(frames[1:])
    return first


def _integer_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    """float32 pixels as written: uint16 rounded and clipped, or float32 as they are."""
    if FULL_SCALE[mode] is None:
        return np.ascontiguousarray(pixels, dtype=np.float32)
    out = np.empty(pixels.shape, dtype=np.uint16)
    for rows in row_chunks(pixels.shape[0]):
        chunk = np.clip(pixels[rows], 0.0, 1.0)
        chunk *= 65535.0
        np.rint(chunk, out=chunk)
        out[rows] = chunk
    return out


def refuse_format(mode: str, fmt: str, name: str) -> UsageError:
    """The error for a format that cannot hold a 16-bit or float image, naming ``--depth 8``."""
    what = "float values" if FULL_SCALE.get(mode) is None else "16 bits per channel"
    where = FORMATS_FOR_MODE.get(mode, "TIFF")
    also = ""
    if fmt == "JPEG" and mode in ALPHA_CHANNEL_MODES:
        also = " and background COLOR to flatten its alpha"
    msg = (f"{name}: {fmt} cannot hold this image's {what} (mode {mode}); write {where} to "
           f"keep them, or add depth 8 to write 8 bits per channel{also}")
    return UsageError(msg, params=("depth", "background"))


def write(image: Image, fp, fmt: str, options: SaveOptions, params: dict, name: str) -> None:
    """Encode a deep-mode image (every frame) as PNG or TIFF into ``fp``.

    ``params`` are the Pillow save parameters of the metadata (PNG only).
    """
    frames = image.frames
    if any(f.mode != image.mode for f in frames):
        msg = f"{name}: the frames mix 16-bit or float colour with other modes; not supported"
        raise UsageError(msg)
    if fmt == "PNG" and image.mode in _PNG_MODES.values():
        metadata = {k: v for k, v in params.items()
                    if k not in ("save_all", "duration", "loop", "append_images",
                                 "default_image")}
        pixels = [_integer_pixels(f.pixels, f.mode) for f in frames]
        if len(frames) > 1:
            fp.write(apng16.encode(pixels, params.get("duration") or [],
                                   int(params.get("loop", 0)),
                                   bool(params.get("default_image")), metadata, name))
        else:
            fp.write(png16.encode(pixels[0], metadata, name))
    elif fmt == "PPM" and image.mode == "RGB;16":
        if len(frames) > 1:
            msg = f"{name}: PPM holds one picture; write TIFF to keep every frame"
            raise UsageError(msg)
        fp.write(ppm16.encode(_integer_pixels(image.pixels, image.mode)))
    elif fmt == "TIFF":
        compression = tiff_compression(image, options, tiff.COMPRESSIONS.__contains__, name)
        check_tiff_quality(options, compression, name)
        pages = [(_integer_pixels(f.pixels, f.mode), f.mode) for f in frames]
        tiff.write(fp, pages, image.info, compression, name)
    else:
        raise refuse_format(image.mode, fmt, name)
