"""Out-of-core filtering: wall time and peak memory on large tiled TIFFs, against vips.

    PYTHONPATH=src python benchmarks/bench_outofcore.py [--sizes 10000 20000] [--sigmas 2 20]
        [--memory 1GB] [--folder /work/bench-big]

Makes an RGB 8-bit tiled TIFF (256-pixel tiles, uncompressed) of each size if
it is not there, then runs each case in a fresh process under ``/usr/bin/time
-v`` and reports wall seconds and peak RSS (maximum resident set size). With
``--check`` it also filters a 2048x2048 crop in memory (``apply_job``, the
whole-image float path) and out of core and counts differing samples; an image
also filtered in memory (``--in-memory``: ``process_file``, which filters 8-bit
images a band at a time) is compared with the tiled output, sample by sample.
``vips gaussblur`` (libvips-tools) is timed on the same file when it is installed.
The images take 3 bytes a pixel on disk (1.2 GB at 20000x20000); the strips of
a separable FFT take 4 bytes a sample more, in the temporary folder, while
they run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np

IN_MEMORY = """
from convtool.pipeline import FilterJob, process_file
from convtool.kernels import gaussian_kernel
run = process_file(FilterJob(gaussian_kernel({sigma})), {source!r}, {target!r}, max_pixels=10**10)
print("RESULT", run.method, "in memory")
"""

RUN = """
import sys
from convtool import scale
from convtool.pipeline import FilterJob
from convtool.kernels import gaussian_kernel
from convtool.scale.tiles import parse_size
job = FilterJob(gaussian_kernel({sigma}))
run = scale.filter_file(job, {source!r}, {target!r}, memory=parse_size({memory!r}))
print("RESULT", run.method, run.strategy, run.tile, run.tiles)
"""


def make_image(path: str, size: int) -> None:
    import tifffile

    if os.path.exists(path):
        return
    rng = np.random.default_rng(size)
    y = np.arange(256, dtype=np.float32)[:, None, None]
    x = np.arange(256, dtype=np.float32)[None, :, None]

    def tiles():
        for r in range(0, size, 256):
            for c in range(0, size, 256):
                wave = 127 + 60 * np.sin((x + c) / 97.0 + np.arange(3)) * np.cos((y + r) / 61.0)
                noise = rng.integers(0, 60, (256, 256, 3))
                yield np.clip(wave + noise, 0, 255).astype(np.uint8)

    tifffile.imwrite(path + ".part", tiles(), shape=(size, size, 3), dtype=np.uint8,
                     tile=(256, 256), bigtiff=True, photometric="rgb", compression=None)
    os.replace(path + ".part", path)


def timed(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in GB, stdout) of a command under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": "src"}, check=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    seconds = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    return seconds, rss / 1e6, done.stdout


def check_crop(source: str, sigma: float, folder: str) -> tuple[int, int]:
    """Differing samples, and the largest difference, between in-memory and out-of-core
    filtering of a 2048x2048 crop."""
    import tifffile

    from convtool import imaging, scale
    from convtool.kernels import gaussian_kernel
    from convtool.pipeline import FilterJob, apply_job

    crop = os.path.join(folder, "crop.tif")
    import zarr

    with tifffile.TiffFile(source) as tif:
        pixels = np.asarray(zarr.open(tif.series[0].aszarr(), mode="r")[:2048, :2048])
    tifffile.imwrite(crop, pixels, tile=(256, 256), photometric="rgb")
    job = FilterJob(gaussian_kernel(sigma))
    expected = np.asarray(imaging.to_pil(apply_job(job, imaging.read_image(crop))))
    out = os.path.join(folder, "crop-out.tif")
    scale.filter_file(job, crop, out, memory=64 * 10**6)
    got = tifffile.imread(out).astype(np.int32)
    return int((got != expected).sum()), int(np.abs(got - expected).max())


def compare_outputs(first: str, second: str) -> tuple[int, int]:
    """Differing samples and the largest difference between two images, a band of rows at a time."""
    from convtool.scale.lazy_read import open_reader

    with open_reader(first, max_pixels=10**12) as a, open_reader(second, max_pixels=10**12) as b:
        assert a.shape == b.shape, (a.shape, b.shape)
        h, w, _ = a.shape
        count = largest = 0
        for r in range(0, h, 512):
            rows, cols = slice(r, min(r + 512, h)), slice(0, w)
            x = a._region(rows, cols).astype(np.int32)
            y = b._region(rows, cols).astype(np.int32)
            count += int((x != y).sum())
            largest = max(largest, int(np.abs(x - y).max()))
    return count, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[2.0, 20.0])
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--folder", default="/work/bench-big")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--in-memory", type=int, default=10000,
                        help="also filter images up to this size in memory (0: never)")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    vips = shutil.which("vips")
    print(f"{'size':>6} {'sigma':>5} {'tool':<22} {'wall s':>7} {'peak GB':>8}  plan")
    for size in args.sizes:
        source = os.path.join(args.folder, f"rgb{size}.tif")
        make_image(source, size)
        target = os.path.join(args.folder, f"out{size}.tif")
        for sigma in args.sigmas:
            code = RUN.format(sigma=sigma, source=source, target=target, memory=args.memory)
            wall, rss, out = timed([sys.executable, "-c", code])
            plan = out.split("RESULT", 1)[1].strip() if "RESULT" in out else ""
            print(f"{size:>6} {sigma:>5g} {'convtool ' + args.memory:<22} {wall:>7.1f} "
                  f"{rss:>8.2f}  {plan}", flush=True)
            if size <= args.in_memory:
                whole = os.path.join(args.folder, f"whole{size}.tif")
                code = IN_MEMORY.format(sigma=sigma, source=source, target=whole)
                wall, rss, out = timed([sys.executable, "-c", code])
                plan = out.split("RESULT", 1)[1].strip() if "RESULT" in out else ""
                print(f"{size:>6} {sigma:>5g} {'convtool in memory':<22} {wall:>7.1f} "
                      f"{rss:>8.2f}  {plan}", flush=True)
                diff, largest = compare_outputs(target, whole)
                print(f"{'':>6} {sigma:>5g} whole image, tiles against the in-memory command: "
                      f"{diff} samples differ, largest difference {largest}", flush=True)
                os.remove(whole)
            if vips:
                vout = os.path.join(args.folder, f"vips{size}.tif[tile,bigtiff]")
                wall, rss, _ = timed([vips, "gaussblur", source, vout, str(sigma)])
                print(f"{size:>6} {sigma:>5g} {'vips gaussblur':<22} {wall:>7.1f} {rss:>8.2f}",
                      flush=True)
            if args.check:
                diff, largest = check_crop(source, sigma, args.folder)
                print(f"{'':>6} {sigma:>5g} 2048x2048 crop: {diff} samples differ from in "
                      f"memory, largest difference {largest}", flush=True)
        os.remove(target)


if __name__ == "__main__":
    main()
