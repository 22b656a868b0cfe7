"""Run convtool over a folder of real-world images and sort the results into classes.

Every file goes through ``python -m convtool blur FILE out.<same ext> --sigma 1.5``
(a format Pillow cannot write goes to ``.png``), in its own process with a
time limit and a memory limit, and the result is checked against an
independent decode of the input with Pillow and a float64 reference blur
(``scipy.ndimage.gaussian_filter``, reflect, 4 sigma, premultiplied alpha):

OK
    exit 0, and the output keeps the size, colour kind, bit depth, alpha,
    frame count and durations, with pixels within one level of the reference
    (lossy outputs: a PSNR floor instead).
WRONG
    exit 0 but one of those checks fails, or anything on stderr.
CRASH
    a traceback, "internal error", a time-out or a kill, or a refusal that is
    not one ``convtool: error:`` line.
REFUSED-damaged / REFUSED-too-large / REFUSED-valid
    one clean error line, for a file no decoder here reads, one over the
    decompression-bomb limit, or one that decodes fine (Pillow, or libpng
    through OpenCV for PNG) and so should not have been refused.

``--formats`` instead writes every readable input to each of :data:`TARGETS`
and counts, per pair: works, works-lossy (alpha, bit depth or frames silently
dropped), refused (one clean line), crash.

Usage::

    python benchmarks/corpus_sweep.py /work/corpus/pngsuite /work/corpus/pillow -j 2
    python benchmarks/corpus_sweep.py /work/corpus/pillow -j 2 --formats
    python benchmarks/corpus_sweep.py FOLDER --json results.json --list WRONG,CRASH

scipy, OpenCV and Pillow are oracles here; src/ uses none of them to check itself.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The convtool source tree under test (``--src``; default: this checkout's src/).
SRC = os.environ.get("CORPUS_SWEEP_SRC", str(ROOT / "src"))
SIGMA = 1.5
#: Output formats of ``--formats`` (extension per format).
TARGETS = ("png", "jpg", "tif", "webp", "gif", "bmp", "ppm", "ico", "avif", "jp2", "tga", "qoi")
LOSSY_EXTS = {".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".avif", ".avifs"}


# --------------------------------------------------------------------------- decoding

@dataclass
class Decoded:
    """An image as a faithful reader sees it: frames on convtool's value scale."""

    format: str
    frames: list = field(default_factory=list)  # float64 (H, W, C)
    kind: str = ""  # "grey", "colour", "cmyk"
    alpha: bool = False
    bits: str = "8"  # "1", "8", "16", "32i", "32f"
    durations: list = field(default_factory=list)
    default_image: bool = False
    lossless: bool = True
    compression: str = ""
    frame_bits: list = field(default_factory=list)  # pages of one TIFF may differ


def _key_alpha(arr: np.ndarray, key) -> np.ndarray:
    """Alpha of a colour-key (tRNS) image: 0 where every channel equals the key."""
    key = np.atleast_1d(np.asarray(key))
    return np.where(np.all(arr == key.reshape(1, 1, -1)[..., :arr.shape[2]], axis=2), 0.0, 1.0)


def _unassociated(arr: np.ndarray) -> np.ndarray:
    """uint16 colour with associated (premultiplied) alpha, divided back by its alpha."""
    alpha = arr[..., -1:].astype(np.float64)
    colour = arr[..., :-1] * 65535.0 / np.where(alpha > 0, alpha, 1.0)
    colour = np.clip(np.rint(colour), 0, 65535)
    return np.concatenate([colour, alpha], axis=-1).astype(np.uint16)


def _sixteen_bit_colour(path: str, fmt: str):
    """(H, W, C) uint16 of a 16-bit colour PNG/TIFF that Pillow reduces to 8 bits, or None."""
    try:
        if fmt == "TIFF":
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                arr = page.asarray()
                if page.axes.startswith("S"):  # planar: one plane a channel, (C, H, W)
                    arr = np.moveaxis(arr, 0, -1)
                if tuple(page.extrasamples) == (1,) and arr.dtype == np.uint16:
                    arr = _unassociated(arr)  # premultiplied (RGBa): as the colour is meant
        else:
            import cv2

            arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if arr is not None and arr.ndim == 3:
                arr = arr[..., [2, 1, 0, 3][:arr.shape[2]]] if arr.shape[2] in (3, 4) else arr
    except Exception:
        return None
    if arr is None or arr.dtype != np.uint16:
        return None
    return arr if arr.ndim == 3 else arr[..., None]


def _rawmode(im) -> str:
    args = im.tile[0].args if im.tile else ""
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _frame(im, raw: str, path: str, dec: Decoded) -> np.ndarray:
    """One loaded Pillow frame (``raw``: its raw mode) as float64 (H, W, C); sets dec's kind."""
    mode = im.mode
    trns = im.info.get("transparency")
    if mode == "RGB" and dec.format == "PPM":  # Pillow scales a 16-bit PPM to 8 bits
        arr = _sixteen_bit_colour(path, "PPM")
        if arr is not None:
            dec.bits, dec.kind = "16", "colour"
            return arr.astype(np.float64) / 65535.0
    if mode in ("RGB", "RGBA", "LA") and ";16" in raw:
        arr = _sixteen_bit_colour(path, dec.format)
        if arr is not None:
            dec.bits, dec.kind = "16", "grey" if arr.shape[2] <= 2 else "colour"
            dec.alpha = arr.shape[2] in (2, 4)
            return arr.astype(np.float64) / 65535.0
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or im.has_transparency_data  # tRNS or an RGBA palette
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode, trns = im.mode, None
    if mode == "1":
        im, mode = im.convert("L"), "L"
        trns = 255 if trns not in (None, 0) else trns
    if mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.float64)
        scale, dec.bits, dec.kind = 65535.0, "16", "grey"
        if arr.ndim == 2:
            arr = arr[..., None]
    elif mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)[..., None]
        scale, dec.bits, dec.kind = 1.0, "32i" if mode == "I" else "32f", "grey"
    else:
        if mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
            conv = {"La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "YCbCr": "RGB"}.get(mode)
            if conv is None:
                raise ValueError(f"mode {mode} has no faithful reference")
            im, mode = im.convert(conv), conv
        arr = np.asarray(im).astype(np.float64)
        if arr.ndim == 2:
            arr = arr[..., None]
        scale = 255.0
        dec.kind = "cmyk" if mode == "CMYK" else ("grey" if mode in ("L", "LA") else "colour")
    has_alpha = mode in ("LA", "RGBA")
    if trns is not None and not has_alpha and not isinstance(trns, bytes):
        depth = {"1": 1, "L;1": 1, "L;2": 2, "L;4": 4}.get(raw)
        if depth is not None:  # the key is stored at the file's depth, the pixels at 8 bits
            trns = min(trns, 2**depth - 1) * 255 // (2**depth - 1)
        alpha = _key_alpha(arr, trns)
        arr = np.concatenate([arr, alpha[..., None] * scale], axis=2)
        has_alpha = True
    dec.alpha = dec.alpha or has_alpha
    return arr / scale


def decode(path: str) -> Decoded:
    """Every frame of ``path`` as Pillow composes it; raises on any damage or warning.

    A PNG Pillow does not identify is read by libpng (OpenCV), which skips an
    ancillary chunk with a bad checksum. A TIFF for which libtiff prints an
    error (not a warning) is damaged.
    """
    from PIL import Image

    with warnings.catch_warnings(), _native_stderr() as native:
        warnings.simplefilter("error", UserWarning)  # Pillow's word for damage it skipped
        warnings.filterwarnings("ignore", "Image appears to be a malformed MPO")
        try:
            dec = _decode_pillow(path)
        except Image.UnidentifiedImageError:
            dec = _decode_libpng(path)
            if dec is None and _is_tiff(path):  # Pillow opens neither LA;16 nor RGB;F
                dec = _decode_tifffile(path)
            if dec is None:
                raise
        except OSError:
            dec = None  # a TIFF codec Pillow's libtiff was built without? (below)
    errors = [line for line in native.read().splitlines()
              if line.strip() and "warning" not in line.lower()]
    if dec is None:
        if not any("support is not configured" in line for line in errors):
            raise OSError(f"libtiff: {errors[0]}" if errors else "cannot decode")
        dec, errors = _decode_tifffile(path), []
    if errors:
        raise OSError(f"libtiff: {errors[0]}")
    ext = os.path.splitext(path)[1].lower()
    dec.lossless = not (ext in LOSSY_EXTS or dec.format in ("JPEG", "MPO", "AVIF", "GIF")
                        or dec.compression in ("jpeg", "tiff_jpeg", "webp")
                        or (dec.format == "WEBP" and not _webp_lossless(path)))
    return dec


class _Captured:
    text = ""

    def read(self) -> str:
        return self.text


@contextlib.contextmanager
def _native_stderr():
    """Capture what native libraries write to fd 2 (libtiff) while decoding."""
    captured = _Captured()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read(1 << 16).decode("utf-8", "replace")


def _decode_pillow(path: str) -> Decoded:
    from PIL import Image

    with Image.open(path) as im:
        dec = Decoded(format=im.format or "")
        dec.default_image = bool(getattr(im, "default_image", False))
        count = getattr(im, "n_frames", 1)
        for index in range(count):
            im.seek(index)
            raw = _rawmode(im)
            im.load()
            dec.durations.append(im.info.get("duration"))
            dec.frames.append(_frame(_upright(im), raw, path, dec))
            dec.frame_bits.append(dec.bits)
        if dec.format == "PNG":
            with Image.open(path) as check:
                check.verify()
        dec.compression = im.info.get("compression", "")
    return dec


def _upright(im):
    """``im`` as displayed: its EXIF orientation applied.

    Pillow applies it while loading only the TIFFs libtiff decodes; convtool keeps
    the stored pixels and the tag (as ImageMagick and vips do without auto-orient).
    Comparing both sides upright makes the two agree when the output is faithful.
    """
    from PIL import ImageOps

    try:
        orientation = im.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block: the pixels are as stored
        return im
    return ImageOps.exif_transpose(im) if orientation not in (None, 1) else im


def _is_tiff(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _decode_tifffile(path: str) -> Decoded:
    """An 8-bit TIFF in a compression Pillow's libtiff lacks (WebP...), read by tifffile."""
    import tifffile

    dec = Decoded(format="TIFF")
    with tifffile.TiffFile(path) as tif:
        for page in tif.pages:
            arr = page.asarray()
            if page.axes.startswith("S"):
                arr = np.moveaxis(arr, 0, -1)
            arr = arr if arr.ndim == 3 else arr[..., None]
            bits, scale = {"uint8": ("8", 255.0), "uint16": ("16", 65535.0),
                           "float32": ("32f", 1.0)}.get(str(arr.dtype), (None, None))
            if bits is None:
                raise ValueError(f"{arr.dtype} page: no faithful reference")
            if tuple(page.extrasamples) == (1,) and bits == "16":
                arr = _unassociated(arr)
            dec.kind = "grey" if arr.shape[2] <= 2 else "colour"
            dec.alpha = arr.shape[2] in (2, 4)
            dec.bits = bits
            dec.frames.append(arr.astype(np.float64) / scale)
            dec.frame_bits.append(bits)
            dec.durations.append(None)
        dec.compression = str(tif.pages[0].compression.name).lower()
    return dec


def _decode_libpng(path: str) -> Decoded | None:
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
    import cv2

    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.shape[2] >= 3:
        arr = arr[..., [2, 1, 0, 3][:arr.shape[2]]]
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    dec = Decoded(format="PNG", bits="16" if scale > 255 else "8", durations=[None])
    dec.kind = "grey" if arr.shape[2] <= 2 else "colour"
    dec.alpha = arr.shape[2] in (2, 4)
    dec.frames.append(arr.astype(np.float64) / scale)
    dec.frame_bits.append(dec.bits)
    return dec


def _webp_lossless(path: str) -> bool:
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    vp8l, vp8 = data.find(b"VP8L"), data.find(b"VP8 ")
    return vp8l >= 0 and (vp8 < 0 or vp8l < vp8)


def decodable(path: str) -> str:
    """"valid", "too-large" or "damaged": what an independent decoder makes of ``path``."""
    from PIL import Image

    try:
        decode(path)
        return "valid"
    except Image.DecompressionBombError:
        return "too-large"
    except Image.UnidentifiedImageError:
        pass
    except Exception:  # any other failure: Pillow identifies the file but cannot read it
        return "damaged"
    with open(path, "rb") as f:
        head = f.read(8)
    if head == b"\x89PNG\r\n\x1a\n":  # libpng tolerates a bad ancillary-chunk CRC; so should we
        import cv2

        saved = os.dup(2)  # libpng writes its complaints straight to fd 2
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                readable = cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        if readable:
            return "valid"
    return "damaged"


# --------------------------------------------------------------------------- reference

def reference_blur(frame: np.ndarray, alpha: bool) -> np.ndarray:
    """Float64 Gaussian blur as convtool blur --sigma 1.5 defines it, premultiplied (H, W, C)."""
    from scipy import ndimage

    work = frame.copy()
    if alpha:
        work[..., :-1] *= work[..., -1:]
    return ndimage.gaussian_filter(work, sigma=(SIGMA, SIGMA, 0), mode="reflect", truncate=4.0)


def _premultiplied(frame: np.ndarray, alpha: bool) -> np.ndarray:
    if not alpha:
        return frame
    out = frame.copy()
    out[..., :-1] *= out[..., -1:]
    return out


def timeline(dec: Decoded) -> tuple[list, list, list]:
    """Frames, durations and bit depths with runs of identical frames merged.

    Encoders (Pillow's GIF and APNG writers) merge a frame identical to the one
    before into it, adding the durations; the animation shown is the same.
    Absent durations count as 0.
    """
    frames, durations, bits = [], [], []
    for index, (frame, duration) in enumerate(zip(dec.frames, dec.durations, strict=True)):
        duration = duration or 0
        mergeable = index > (1 if dec.default_image else 0)
        if (mergeable and frames[-1].shape == frame.shape
                and np.array_equal(frames[-1], frame)):
            durations[-1] += duration
            continue
        frames.append(frame)
        durations.append(duration)
        bits.append(dec.frame_bits[index])
    return frames, durations, bits


def compare(src: Decoded, out: Decoded, out_path: str) -> list[str]:
    """What the output loses against the input and the reference blur (empty: faithful)."""
    problems = []
    src_frames, src_durations, _ = timeline(src)
    out_frames, out_durations, out_bits = timeline(out)
    if len(out_frames) != len(src_frames):
        problems.append(f"frames {len(src_frames)} -> {len(out_frames)}")
    if src.default_image != out.default_image:
        problems.append(f"APNG default image {src.default_image} -> {out.default_image}")
    timed = out.format in ("GIF", "PNG", "WEBP", "AVIF")  # TIFF, MPO... have no timing
    if timed and len(src_frames) > 1 and src_durations != out_durations[:len(src_durations)]:
        problems.append(f"durations {src_durations[:4]} -> {out_durations[:4]}")
    if src.alpha and not out.alpha and any(f[..., -1].min() < 1 for f in src.frames):
        problems.append("alpha/transparency dropped")
    if src.bits != out.bits and not (src.bits == "1" and out.bits == "8"):
        problems.append(f"bit depth {src.bits} -> {out.bits}")
    if src.kind != out.kind and not (src.kind == "grey" and out.kind == "colour"):
        problems.append(f"colour {src.kind} -> {out.kind}")
    for index, (a, b) in enumerate(zip(src_frames, out_frames, strict=False)):
        if a.shape[:2] != b.shape[:2]:
            size = f"{a.shape[1]}x{a.shape[0]} -> {b.shape[1]}x{b.shape[0]}"
            problems.append(f"frame {index} size {size}")
            continue
        problem = _pixels_differ(a, b, src, out, out_bits[index], out_path)
        if problem:
            problems.append(f"frame {index}: {problem}")
        if len(problems) > 4:
            break
    return problems


def _align(ref: np.ndarray, got: np.ndarray, src: Decoded, out: Decoded):
    """Both as premultiplied (H, W, C) with the same channels; grey widened to RGB."""
    ref_a = src.alpha
    got = _premultiplied(got, out.alpha)
    if out.alpha and not src.alpha:  # an opaque input must come out opaque
        ref = np.concatenate([ref, np.ones((*ref.shape[:2], 1))], axis=2)
        ref_a = True
    if src.alpha and not out.alpha:
        ref = ref[..., :-1]
        ref_a = False
    colours_ref = ref.shape[2] - ref_a
    colours_got = got.shape[2] - (out.alpha and ref_a)
    if colours_ref == 1 and colours_got == 3:
        ref = np.concatenate([np.repeat(ref[..., :1], 3, axis=2), ref[..., 1:]], axis=2)
    elif colours_ref == 3 and colours_got == 1:
        got = np.concatenate([np.repeat(got[..., :1], 3, axis=2), got[..., 1:]], axis=2)
    return ref, got


def _pixels_differ(frame: np.ndarray, got: np.ndarray, src: Decoded, out: Decoded,
                   bits: str, out_path: str = "") -> str:
    ref = reference_blur(frame, src.alpha)
    ref, got = _align(ref, got, src, out)
    if ref.shape != got.shape:
        return f"channels {ref.shape[2]} -> {got.shape[2]}"
    if bits in ("32i", "32f"):
        tol = 1.01 if bits == "32i" else 1e-4 * max(1.0, float(np.abs(ref).max()))
    else:
        tol = 1.01 / (65535.0 if bits == "16" else 255.0)
    if bits == "32i":
        ref = np.rint(ref)
    if out.format == "GIF":
        return _gif_differs(ref, got, src.alpha or out.alpha)
    if not out.lossless:
        err = float(np.sqrt(np.mean((ref - got) ** 2)))
        psnr = 99.0 if err == 0 else 20 * np.log10(1.0 / err)
        if psnr >= 28:
            return ""
        own = _jpeg_settings_psnr(ref, out_path) if out.format == "JPEG" else None
        if own is not None and psnr >= own - 1.0:  # no worse than its own tables cause
            return ""
        return f"PSNR {psnr:.1f} dB < 28 (lossy output)"
    if bits not in ("32i", "32f"):
        ref = np.clip(ref, 0.0, 1.0)
    diff = np.abs(ref - got)
    worst = float(diff.max()) if diff.size else 0.0
    if worst > tol:
        where = np.unravel_index(int(np.argmax(diff)), diff.shape)
        return f"max diff {worst:.4g} > {tol:.3g} at {tuple(int(i) for i in where)}"
    return ""


def _jpeg_settings_psnr(ref: np.ndarray, out_path: str) -> float | None:
    """PSNR of the reference itself through the output's JPEG tables and subsampling.

    A JPEG written with the input's own (low) quality tables loses what those tables
    lose: that, not a fixed 28 dB, is the bar for keeping the input's settings.
    """
    from PIL import Image, JpegImagePlugin

    if ref.shape[2] not in (1, 3) or not out_path:
        return None
    with Image.open(out_path) as im:
        tables, sampling = im.quantization, JpegImagePlugin.get_sampling(im)
    pixels = np.clip(np.rint(ref * 255.0), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", qtables=tables, subsampling=max(sampling, 0))
    back = np.asarray(Image.open(buffer)).astype(np.float64) / 255.0
    back = back.reshape(ref.shape)
    err = float(np.sqrt(np.mean((ref - back) ** 2)))
    return 99.0 if err == 0 else 20 * np.log10(1.0 / err)


def _gif_differs(ref: np.ndarray, got: np.ndarray, alpha: bool) -> str:
    """GIF: 256 colours and 1-bit alpha; alpha thresholded at 50% (ImageMagick's rule)."""
    if alpha:
        ra, ga = ref[..., -1], got[..., -1]
        clear = np.abs(ra - 0.5) > 0.02
        wrong = clear & ((ra >= 0.5) != (ga > 0.5))
        if wrong.mean() > 0.001:
            return f"GIF transparency wrong on {wrong.mean():.1%} of pixels"
        opaque = (ra >= 0.52) & (ga > 0.5)
        ref_c = ref[..., :-1][opaque] / ra[opaque][:, None]
        got_c = got[..., :-1][opaque] / ga[opaque][:, None]
    else:
        ref_c, got_c = ref, got
    if ref_c.size == 0:
        return ""
    err = float(np.sqrt(np.mean((ref_c - got_c) ** 2)))
    psnr = 99.0 if err == 0 else 20 * np.log10(1.0 / err)
    return "" if psnr >= 24 else f"GIF colours PSNR {psnr:.1f} dB < 24"


# --------------------------------------------------------------------------- running

def _limits(memory_mb: int):
    def apply():
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()
    return apply


def run_cli(args: list[str], timeout: float, memory_mb: int):
    """(returncode, stderr) of ``python -m convtool ARGS``; returncode None on time-out."""
    env = dict(os.environ, PYTHONPATH=SRC)
    try:
        proc = subprocess.run([sys.executable, "-m", "convtool", *args], capture_output=True,
                              timeout=timeout, env=env, preexec_fn=_limits(memory_mb), check=False)
    except subprocess.TimeoutExpired:
        return None, "time-out"
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def writable_ext(path: str) -> str:
    """The input's extension when Pillow writes that format, else ``.tif`` (holds every mode)."""
    from PIL import Image

    Image.init()
    ext = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if ext == ".mpo":
        return ext
    return ext if fmt in Image.SAVE else ".tif"


# A refusal because the output format cannot hold the image (said so in the message).
_FORMAT_LIMIT_WORDS = ("cannot store", "refuses rather than drop", "holds 8 bits", "holds one",
                       "encoder cannot write", "frames share one size", "images only",
                       "icons are at most", "icon sets are made by resizing",
                       "gives every frame the first one's mode")
# A refusal because of a size or resource limit.
_SIZE_LIMIT_WORDS = ("decompression bomb", "more than the limit", "Decompressed data too large")


def _clean_refusal(code, err: str) -> bool:
    lines = err.strip().splitlines()
    return (code not in (None, 0) and code > 0 and len(lines) == 1
            and lines[0].startswith("convtool: error:") and "internal error" not in err)


def check_file(path: str, timeout: float = 120.0, memory_mb: int = 3000) -> tuple[str, str]:
    """(class, detail) for one file."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 << 20, memory_mb * 2 << 20))
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:
        out = os.path.join(tmp, "out" + writable_ext(path))
        code, err = run_cli(blur_args(path, out), timeout, memory_mb)
        return classify(path, out, code, err)


def blur_args(path: str, out: str) -> list[str]:
    """The command line (after ``convtool``) the sweep runs on ``path``."""
    return ["blur", path, out, "--sigma", str(SIGMA)]


def classify(path: str, out: str, code: int | None, err: str) -> tuple[str, str]:
    """(class, detail) of one run: its exit code (None: timed out), stderr, and output file."""
    first = err.strip().splitlines()[0] if err.strip() else ""
    if code is None or code < 0 or "Traceback" in err or "internal error" in err:
        return "CRASH", first or f"exit {code}"
    if code != 0:
        if not _clean_refusal(code, err):
            return "CRASH", f"refusal not one line: {err.strip()[:300]!r}"
        kind = decodable(path)
        if kind == "valid" and any(s in first for s in _FORMAT_LIMIT_WORDS):
            kind = "format-limit"
        if any(s in first for s in _SIZE_LIMIT_WORDS):
            kind = "too-large"
        return f"REFUSED-{kind}", first
    if err.strip():
        return "WRONG", f"exit 0 but stderr: {err.strip()[:200]!r}"
    try:
        src = decode(path)
    except Exception as e:
        return "WRONG", f"exit 0 for an input the oracle refuses ({type(e).__name__}: {e})"
    try:
        got = decode(out)
    except Exception as e:
        return "WRONG", f"output does not decode ({type(e).__name__}: {e})"
    problems = compare(src, got, out)
    return ("WRONG", "; ".join(problems)) if problems else ("OK", "")


def _lost(src: Decoded, out_path: str) -> str:
    """What a written file silently lost against its input (alpha, depth, frames), or ""."""
    try:
        got = decode(out_path)
    except Exception as e:
        return f"output unreadable ({type(e).__name__})"
    lost = []
    if src.alpha and not got.alpha and any(f[..., -1].min() < 1 for f in src.frames):
        lost.append("alpha")  # an alpha channel that was all opaque loses nothing
    # 16-bit PGM reads back as Pillow's 32-bit I: the values are the same
    widened = src.bits == "16" and got.bits == "32i"
    if src.bits == "32i" and got.bits == "16":  # a 16-bit PGM (Pillow's I) back as 16-bit
        widened = all(f.min() >= 0 and f.max() <= 65535 for f in src.frames)
    if src.bits in ("16", "32i", "32f") and got.bits != src.bits and not widened:
        lost.append(f"depth {src.bits}->{got.bits}")
    expected, got_frames = _expected_frames(src, got), len(got.frames)
    if got_frames < expected and not _merged_alike(src, got):
        lost.append(f"frames {expected}->{got_frames}")
    return ",".join(lost)


def _expected_frames(src: Decoded, got: Decoded) -> int:
    """How many frames a faithful ``got`` holds: identical runs merged, an APNG's hidden
    default image only in PNG, an MPO's primary picture alone outside JPEG."""
    if src.format == "MPO" and got.format not in ("JPEG", "MPO"):
        return 1
    frames = len(timeline(src)[0])
    return frames - 1 if src.default_image and got.format != "PNG" else frames


def _merged_alike(src: Decoded, got: Decoded) -> bool:
    """GIF and WebP encoders merge frames that became identical (after quantisation),
    adding their durations: the same animation when the total time is the same."""
    if got.format not in ("GIF", "WEBP") or not got.frames:
        return False
    shown = src.durations[1:] if src.default_image else src.durations
    return abs(sum(d or 0 for d in shown) - sum(d or 0 for d in got.durations)) <= len(shown)


def check_formats(path: str, targets=TARGETS, timeout: float = 120.0,
                  memory_mb: int = 3000) -> dict[str, tuple[str, str]]:
    """{target: (class, detail)} for one input written to every target format."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 << 20, memory_mb * 2 << 20))
    env = dict(os.environ, PYTHONPATH=SRC)
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:
        cmd = [sys.executable, __file__, "--drive", path, tmp, *targets]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout * 3, env=env,
                                  preexec_fn=_limits(memory_mb), check=False)
        except subprocess.TimeoutExpired:
            return {t: ("crash", "time-out") for t in targets}
        try:
            raw = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {t: ("crash", proc.stderr.decode()[-200:]) for t in targets}
        if raw == "unreadable":
            return {}
        results = {}
        try:
            src = decode(path)
        except Exception:  # the oracle refuses the input: nothing to compare with
            src = None
        for target, (code, err) in raw.items():
            out = os.path.join(tmp, "out." + target)
            if code == 0:
                lost = _lost(src, out) if src is not None else ""
                results[target] = ("works-lossy", lost) if lost else ("works", "")
            elif _clean_refusal(code, err):
                results[target] = ("refused", err.strip())
            else:
                results[target] = ("crash", err.strip()[:300])
        return results


def drive(path: str, folder: str, targets: list[str]) -> None:
    """In one process: read ``path``; if readable, run the CLI to each target; print JSON."""
    from typer.testing import CliRunner

    from convtool.cli import app
    from convtool.errors import ConvtoolError
    from convtool.imaging import read_image

    try:
        read_image(path)
    except ConvtoolError:
        print(json.dumps("unreadable"))
        return
    runner = CliRunner()
    results = {}
    for target in targets:
        out = os.path.join(folder, "out." + target)
        res = runner.invoke(app, blur_args(path, out))
        err = res.stderr
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            err += f"\nTraceback: {type(res.exception).__name__}: {res.exception}"
        results[target] = (res.exit_code, err)
    print(json.dumps(results))


def files_in(folders: list[str]) -> list[str]:
    found = []
    for folder in folders:
        if os.path.isfile(folder):
            found.append(folder)
        for dirpath, _dirs, names in os.walk(folder):
            found += [os.path.join(dirpath, n) for n in names
                      if not n.startswith(".") and n.lower() not in ("license", "readme.md")
                      and not n.lower().endswith((".txt", ".md", ".json", ".readme"))]
    return sorted(found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per file")
    parser.add_argument("--memory", type=int, default=3000, help="MB of address space per run")
    parser.add_argument("--formats", action="store_true", help="write every input to each format")
    parser.add_argument("--src", help="convtool source tree to test (default: this checkout's)")
    parser.add_argument("--progress", help="append each file's result here as it completes")
    parser.add_argument("--json", help="write every file's class and detail here")
    parser.add_argument("--list", default="WRONG,CRASH,REFUSED-valid,works-lossy,crash",
                        help="classes whose files are listed (comma-separated; 'all')")
    args = parser.parse_args(argv)
    if args.src:
        os.environ["CORPUS_SWEEP_SRC"] = os.path.abspath(args.src)  # the workers inherit it
        global SRC
        SRC = os.environ["CORPUS_SWEEP_SRC"]
    paths = files_in(args.folders)
    worker = check_formats if args.formats else check_file
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(worker, p, timeout=args.timeout, memory_mb=args.memory): p
                   for p in paths}
        results = {}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if args.progress:  # one JSON line per file as it completes: a partial run counts
                with open(args.progress, "a") as f:
                    f.write(json.dumps([futures[future], results[futures[future]]]) + "\n")
        results = {p: results[p] for p in paths}
    return report(results, args)


def report(results: dict, args) -> int:
    by_class = collections.defaultdict(list)
    if args.formats:
        for path, per_target in results.items():
            if not per_target:
                by_class["unreadable-input"].append((path, ""))
            for target, (cls, detail) in per_target.items():
                by_class[cls].append((f"{path} -> {target}", detail))
    else:
        for path, (cls, detail) in results.items():
            by_class[cls].append((path, detail))
    wanted = set(args.list.split(","))
    for cls in sorted(by_class):
        if "all" in wanted or cls in wanted:
            print(f"\n== {cls} ({len(by_class[cls])})")
            for name, detail in by_class[cls]:
                print(f"  {name}: {detail}" if detail else f"  {name}")
    print("\n" + "  ".join(f"{cls}: {len(v)}" for cls, v in sorted(by_class.items()))
          + f"  (files: {len(results)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--drive":
        drive(sys.argv[2], sys.argv[3], sys.argv[4:])
        sys.exit(0)
    sys.exit(main())
