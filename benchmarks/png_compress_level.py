"""End-to-end time, file size and peak memory of ``convtool blur`` by PNG compression level.

Upscales sample_images/astronaut.png to 4000x3000, then runs the real command
line ``--repeat`` times per level and reports the fastest wall time, the least
CPU time (user + system), the output size and peak RSS (``resource.getrusage``
of the children). Pillow's own default is zlib's level 6.

    python benchmarks/png_compress_level.py [--levels 1 3 6] [--sigma 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per level; the fastest counts")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "big.png"
        with Image.open(ROOT / "sample_images" / "astronaut.png") as im:
            im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
                source, compress_level=1)
        print(f"{'level':>5} {'wall s':>7} {'CPU s':>6} {'MiB':>7} {'peak RSS MiB':>13}")
        for level in args.levels:
            out = pathlib.Path(tmp) / f"out{level}.png"
            times, cpu = [], []
            for _ in range(args.repeat):
                before = _child_cpu()
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "convtool", "blur", str(source), str(out),
                                "--sigma", str(args.sigma), "--compress-level", str(level)],
                               check=True, env=env)
                times.append(time.perf_counter() - start)
                cpu.append(_child_cpu() - before)
            # The machine is shared: the fastest run is the least disturbed, and CPU
            # time (user + system) is steadier than wall time under contention.
            seconds = min(times)
            # ru_maxrss of all waited-for children so far: the largest is the true peak.
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            size = out.stat().st_size / 2**20
            print(f"{level:>5} {seconds:>7.2f} {min(cpu):>6.2f} {size:>7.2f} {peak:>13.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
