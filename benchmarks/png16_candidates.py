"""Measure the 16-bit PNG codecs convtool could use: correctness on the PngSuite, speed at 12 MP.

Pillow reads and writes 16-bit PNGs only as greyscale (``I;16``); colour at 16
bits per channel needs another codec. The candidates: imagecodecs' libpng
(``png_*``) and libspng (``spng_*``) bindings, and pypng (pure Python).

Usage::

    python benchmarks/png16_candidates.py PNGSUITE_DIR [--size 4000x3000] [--repeat 3]

``PNGSUITE_DIR`` holds the PngSuite's ``png/`` and ``json/`` folders (the
``json/`` arrays, RGBA at 16 bits, are the reference pixels). For every
candidate it prints the number of 16-bit files decoded exactly, the number of
exact encode -> decode round trips, whether damaged files are refused, and the
median time to encode and decode a 12 MP RGB image at 16 bits.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time

import numpy as np


def _pypng_decode(data: bytes) -> np.ndarray:
    import png

    width, height, rows, info = png.Reader(bytes=data).read_flat()
    planes = info["planes"]
    return np.asarray(rows, dtype=np.uint16).reshape(height, width, planes)


def _pypng_encode(a: np.ndarray, level: int) -> bytes:
    import png

    height, width, planes = a.shape
    writer = png.Writer(width, height, greyscale=planes < 3, alpha=planes in (2, 4),
                        bitdepth=16, compression=level)
    out = io.BytesIO()
    writer.write_array(out, a.reshape(-1))
    return out.getvalue()


def _candidates():
    import imagecodecs

    return {
        "imagecodecs.png (libpng)": (
            imagecodecs.png_decode,
            lambda a, level: imagecodecs.png_encode(_squeezed(a), level=level)),
        "imagecodecs.spng (libspng)": (
            imagecodecs.spng_decode,
            lambda a, level: imagecodecs.spng_encode(_squeezed(a), level=level)),
        "imagecodecs.png, filter SUB": (
            imagecodecs.png_decode,
            lambda a, level: imagecodecs.png_encode(_squeezed(a), level=level,
                                                    filter=imagecodecs.PNG.FILTER.SUB)),
        "pypng": (_pypng_decode, _pypng_encode),
    }


def _squeezed(a: np.ndarray) -> np.ndarray:
    """Greyscale as (H, W): the imagecodecs encoders take no (H, W, 1)."""
    return a[..., 0] if a.shape[2] == 1 else a


def _as_hwc(a: np.ndarray) -> np.ndarray:
    return a[:, :, np.newaxis] if a.ndim == 2 else a


def _reference(folder: str, stem: str, shape) -> np.ndarray:
    """The PngSuite's RGBA reference, reduced to the file's own channels."""
    with open(os.path.join(folder, "json", stem + ".json")) as f:
        rgba = np.asarray(json.load(f), dtype=np.uint16).reshape(shape[0], shape[1], 4)
    channels = shape[2]
    return {1: rgba[..., :1], 2: rgba[..., [0, 3]], 3: rgba[..., :3], 4: rgba}[channels]


def correctness(folder: str, decode, encode) -> tuple[int, int, int, int, list[str]]:
    """(files, decoded exactly, round trips exact, damaged refused, failures) on the suite."""
    names = sorted(n for n in os.listdir(os.path.join(folder, "png")) if n.endswith("16.png"))
    exact = trips = 0
    failures = []
    for name in names:
        with open(os.path.join(folder, "png", name), "rb") as f:
            data = f.read()
        try:
            got = _as_hwc(np.asarray(decode(data)))
            if got.dtype != np.uint16:
                raise ValueError(f"dtype {got.dtype}")
            ok = np.array_equal(got, _reference(folder, name[:-4], got.shape))
            exact += ok
            if not ok:
                failures.append(f"{name}: pixels differ")
            back = _as_hwc(np.asarray(decode(encode(np.ascontiguousarray(got), 3))))
            trips += np.array_equal(back, got)
        except Exception as e:
            failures.append(f"{name}: {type(e).__name__}: {e}")
    damaged = sorted(n for n in os.listdir(os.path.join(folder, "png")) if n.startswith("x"))
    refused = 0
    for name in damaged:
        with open(os.path.join(folder, "png", name), "rb") as f:
            data = f.read()
        try:
            decode(data)
        except Exception:
            refused += 1
    return len(names), exact, trips, refused, failures, len(damaged)


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def speed(decode, encode, a: np.ndarray, repeat: int, level: int) -> tuple[float, float, int]:
    t_enc, data = _median_time(lambda: encode(a, level), repeat)
    t_dec, back = _median_time(lambda: decode(data), repeat)
    assert np.array_equal(_as_hwc(np.asarray(back)), a)
    return t_enc, t_dec, len(data)


def _photo(height: int, width: int) -> np.ndarray:
    """astronaut.png upscaled (bicubic, in float) to 16-bit RGB: a photo as a blur writes it."""
    from PIL import Image

    here = os.path.dirname(os.path.abspath(__file__))
    with Image.open(os.path.join(here, "..", "sample_images", "astronaut.png")) as im:
        bands = [b.convert("F").resize((width, height), Image.Resampling.BICUBIC)
                 for b in im.convert("RGB").split()]
    a = np.stack([np.asarray(b) for b in bands], axis=-1) * (65535 / 255)
    return np.clip(np.rint(a), 0, 65535).astype(np.uint16)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pngsuite")
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--level", type=int, default=3, help="zlib level (convtool's default: 3)")
    parser.add_argument("--skip", default="", help="comma-separated candidates not to time")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    image = _photo(height, width)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"{'candidate':28} {'16-bit files':>12} {'exact':>6} {'round trip':>10} "
          f"{'damaged refused':>15} {'encode s':>9} {'decode s':>9} {'MB':>6}")
    for label, (decode, encode) in _candidates().items():
        files, exact, trips, refused, failures, damaged = correctness(args.pngsuite, decode,
                                                                       encode)
        t_enc = t_dec = float("nan")
        size = 0
        if not any(s in label for s in skip):
            try:
                t_enc, t_dec, size = speed(decode, encode, image, args.repeat, args.level)
            except Exception as e:
                failures.append(f"12 MP RGB at 16 bits: {type(e).__name__}: {e}")
        print(f"{label:28} {files:>12} {exact:>6} {trips:>10} {refused:>9}/{damaged:<5} "
              f"{t_enc:>9.2f} {t_dec:>9.2f} {size / 1e6:>6.1f}")
        for line in failures:
            print(f"    {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
