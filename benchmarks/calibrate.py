"""Measure the constants of convtool's cost model (``choose_method``) on this machine.

Run from the repository root::

    PYTHONPATH=src python benchmarks/calibrate.py [--quick]

Each path of the engine is timed (median of several runs, default threads) on
a few shapes, the time is divided by the work the model counts for it, and the
median of those per-unit costs is printed as the line to paste into
``src/convtool/engine.py``. The machine is shared and noisy, so medians are used
throughout; run it on an idle machine when you can.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from convtool import engine
from convtool.kernels import gaussian_kernel, mean_kernel


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller images, fewer repeats")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    repeat = 3 if args.quick else 5
    shapes = [(512, 512, 3), (1000, 1500, 3)] if args.quick else \
        [(512, 512, 3), (1000, 1500, 3), (2000, 3000, 3)]

    def run(a, k, method):
        return median_time(lambda: engine.convolve(a, k, method=method), repeat)

    overhead = run(rng.random((8, 8)).astype(np.float32), np.ones((2, 3)), "direct")
    engine._OVERHEAD = 0.0

    direct, box, fft1, fft2 = [], [], [], []
    for shape in shapes:
        a = rng.random(shape, dtype=np.float32)
        for k in (gaussian_kernel(2.0).array, rng.standard_normal((5, 5)),
                  np.outer(rng.random(25), rng.random(25))):
            (work, _, _), _ = engine._plans(a.shape, k)
            direct.append(run(a, k, "direct") / work)
        d = statistics.median(direct)
        for size in (15, 51):
            k = mean_kernel(size).array
            (work, kind, _), _ = engine._plans(a.shape, k)
            assert kind == "box"
            measured = run(a, k, "direct") / d / (a.size)
            horizontal = engine._box_ops(size, size) - engine._BOX_COLUMN_OPS
            box.append(measured - horizontal)
        for k in (gaussian_kernel(8.0).array, gaussian_kernel(20.0).array):
            _, ((units, _, passes), kind, _) = engine._plans(a.shape, k)
            assert kind == "separable"
            # Copies and padding around the transforms cost a few direct passes.
            fft1.append((run(a, k, "fft") - 4 * d * passes) / units)
        for size in (21, 63):
            k = rng.standard_normal((size, size))
            _, ((_, units2, passes), kind, _) = engine._plans(a.shape, k)
            assert kind == "full"
            fft2.append((run(a, k, "fft") - 4 * d * passes) / units2)
        print(f"measured {shape}", flush=True)

    d = statistics.median(direct)
    print("\n# Paste into src/convtool/engine.py:")
    print(f"_DIRECT_COST = {d:.3g}")
    print(f"_BOX_COLUMN_OPS = {statistics.median(box):.2f}")
    print(f"_FFT_COST = {statistics.median(fft1):.3g}")
    print(f"_FFT2_COST = {statistics.median(fft2):.3g}")
    print(f"_FFT_PASS_COST = {4 * d:.3g}")
    print(f"_OVERHEAD = {overhead:.3g}")


if __name__ == "__main__":
    main()
