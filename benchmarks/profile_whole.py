"""Where the time of one ``convtool blur`` goes, phase by phase (not a test).

Times, in one process, what ``convtool blur IN OUT --sigma 2`` does for an 8-bit
image: the imports (numpy, Pillow, convtool's pipeline), decoding the input
(``read_image``), filtering (the banded uint8 path: convert a band to float,
filter, round back), encoding and writing the output atomically. The CLI's own
start-up (``python -c pass`` and typer) is timed as whole processes. Each phase
is the median of ``--repeat`` runs after one warm-up.

    PYTHONPATH=src python benchmarks/profile_whole.py /tmp/convtool-bench/in-4000x3000.png
    PYTHONPATH=src python benchmarks/profile_whole.py IN.jpg --repeat 5

``benchmarks/bench_whole.py`` builds the 12 MP and 0.75 MP test images in
/tmp/convtool-bench (run it once with ``--case small -n 1``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _process_seconds(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _imports() -> float:
    start = time.perf_counter()
    import numpy  # noqa: F401
    from PIL import Image  # noqa: F401

    from convtool import imaging, pipeline  # noqa: F401
    from convtool.pipeline import bands  # noqa: F401
    return time.perf_counter() - start


def main() -> None:
    # Installed code runs from compiled bytecode; see bench_whole.py.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("--sigma", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    imports = _imports()  # first: the only run that pays for them

    from convtool import imaging
    from convtool.kernels import gaussian_kernel
    from convtool.pipeline import FilterJob, bands

    job = FilterJob(gaussian_kernel(args.sigma))
    ext = os.path.splitext(args.input)[1]
    phases: dict[str, list[float]] = {"decode": [], "filter": [], "encode + write": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out" + ext)
        for i in range(args.repeat + 1):
            t0 = time.perf_counter()
            image = imaging.read_image(args.input, integers=True)
            t1 = time.perf_counter()
            if bands.can_band(job, image):
                result = bands.apply_job_banded(job, image)
            else:
                from convtool.pipeline.job import apply_job

                result = apply_job(job, bands.to_float(image))
            t2 = time.perf_counter()
            del image
            imaging.write_image(result, out, imaging.SaveOptions())
            t3 = time.perf_counter()
            if i:
                for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    phases[name].append(seconds)
            del result
    python = _process_seconds([sys.executable, "-c", "pass"], args.repeat)
    help_ = _process_seconds([sys.executable, "-m", "convtool", "--help"], args.repeat)
    print(f"{args.input}, blur sigma {args.sigma}, medians of {args.repeat}")
    print(f"{'interpreter start (python -c pass)':36} {python:7.3f} s")
    print(f"{'CLI start (convtool --help)':36} {help_:7.3f} s  (includes the interpreter)")
    print(f"{'imports: numpy, Pillow, pipeline':36} {imports:7.3f} s")
    for name, times in phases.items():
        print(f"{name:36} {statistics.median(times):7.3f} s")


if __name__ == "__main__":
    main()
