"""Batch worker start-up: ``spawn`` (today) against ``forkserver`` with preloaded modules.

Each measurement is a fresh Python process that runs ``run_batch`` with
``--jobs 2`` over the same files through :class:`convtool.batch.LocalExecutor`,
whose start method is switched by setting its multiprocessing context; the
forkserver preloads numpy, Pillow and convtool's pipeline, so each worker is a
fork of a process that has imported them once. The two methods alternate
round by round (shared, noisy machine) and the medians of the ``run_batch``
time and of the whole process are printed, for a few files (start-up
dominates) and for more (throughput).

    PYTHONPATH=src python benchmarks/bench_pool_start.py [--rounds 5] [--files 4 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import multiprocessing, sys, time
from convtool.batch import plan_batch, run_batch
from convtool.batch.local import LocalExecutor
from convtool.pipeline import blur_job
method, src, out = sys.argv[1:4]
executor = LocalExecutor(jobs=2)
ctx = multiprocessing.get_context(method)
if method == "forkserver":
    ctx.set_forkserver_preload(["numpy", "PIL.Image", "convtool.pipeline.files",
                                "convtool.batch.local"])
executor._ctx = ctx  # the start method under test, whatever the executor's default
plan = plan_batch([src], out)
start = time.perf_counter()
report = run_batch(blur_job(2.0), plan.items, executor=executor)
assert not report.failed, report.failed
print(time.perf_counter() - start)
"""


def make_files(folder: Path, count: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(ROOT / "sample_images" / "astronaut.png") as im:
        photo = im.convert("RGB").resize((640, 480))
    for i in range(count):
        ext = ".jpg" if i % 2 else ".png"  # mixed, as the batch figure
        photo.rotate(i * 7).save(folder / f"f{i:03d}{ext}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, nargs="+", default=[4, 40])
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.files:
            src = Path(tmp) / f"in{count}"
            make_files(src, count)
            runs = {"spawn": ([], []), "forkserver": ([], [])}
            for r in range(args.rounds + 1):  # round 0 warms the caches
                for method, (inner, whole) in runs.items():
                    start = time.perf_counter()
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, method, str(src),
                         str(Path(tmp) / f"out-{method}-{count}-{r}")],
                        env=env, capture_output=True, text=True, check=True)
                    if r:
                        whole.append(time.perf_counter() - start)
                        inner.append(float(out.stdout.split()[-1]))
            print(f"{count} files 640x480 (PNG and JPEG), blur sigma 2, --jobs 2, "
                  f"median of {args.rounds}")
            for method, (inner, whole) in runs.items():
                print(f"  {method:10} run_batch {statistics.median(inner):6.3f} s "
                      f"({count / statistics.median(inner):5.1f} files/s), "
                      f"whole process {statistics.median(whole):6.3f} s")


if __name__ == "__main__":
    main()
