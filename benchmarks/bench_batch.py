"""Files per second of a batch run with --jobs 1 and --jobs 2 (not a test).

Makes 100 images (256 x 256 crops of the sample photos) in a temporary folder,
blurs them all with ``run_batch`` a few times per worker count, and prints the
median files per second, worker start-up included.

    PYTHONPATH=src python benchmarks/bench_batch.py [--count 100] [--repeat 3] [--sigma 2]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

from PIL import Image

from convtool.batch import plan_batch, run_batch
from convtool.kernels import gaussian_kernel
from convtool.pipeline import FilterJob

SAMPLES = pathlib.Path(__file__).resolve().parent.parent / "sample_images"


def make_images(folder: pathlib.Path, count: int, side: int = 256) -> None:
    sources = []
    for path in sorted(SAMPLES.glob("*.png")):
        with Image.open(path) as im:
            sources.append(im.convert("RGB"))
    for i in range(count):
        im = sources[i % len(sources)]
        x = (37 * i) % (im.width - side)
        y = (53 * i) % (im.height - side)
        im.crop((x, y, x + side, y + side)).save(folder / f"img{i:03d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sigma", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    job = FilterJob(gaussian_kernel(args.sigma))
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "in").mkdir()
        make_images(root / "in", args.count)
        print(f"{args.count} images 256x256 RGB, blur sigma {args.sigma}, "
              f"median of {args.repeat} runs")
        for jobs in args.jobs:
            rates = []
            for r in range(args.repeat):
                plan = plan_batch([root / "in"], root / f"out{jobs}-{r}")
                start = time.perf_counter()
                report = run_batch(job, plan.items, jobs=jobs)
                seconds = time.perf_counter() - start
                assert report.count("done") == args.count, report.failed
                rates.append(args.count / seconds)
            print(f"--jobs {jobs}: {statistics.median(rates):6.1f} files/s "
                  f"(runs: {', '.join(f'{x:.1f}' for x in rates)})")


if __name__ == "__main__":
    main()
