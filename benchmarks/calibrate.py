"""Measure the constants of convtool's cost model (``choose_method``) on this machine.

Run from the repository root::

    PYTHONPATH=src python benchmarks/calibrate.py [--quick]

It times the direct and the FFT method on a grid of image sizes and kernels
(Gaussians, boxes, random and low-rank kernels; median of several runs,
default threads), counts the work the model counts for each run
(``convtool.engine.plan(...).work``), and fits the constants by least squares on the log of the
time (robust loss), so that small and large cases weigh alike:

* direct: ``seconds = DIRECT_COST * passes * samples + OVERHEAD``, where a box
  costs ``BOX_COLUMN_OPS`` passes down the columns plus its doubling passes;
* fft: ``seconds = FFT_COST * (1-D n log2 n units) + FFT2_COST * (2-D units)
  + FFT_PASS_COST * samples per filtered axis + OVERHEAD``.

It prints the lines to paste into ``src/convtool/engine/planner.py``. The machine is
shared and noisy, so run it on an idle machine when you can.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from convtool import engine
from convtool.engine import planner
from convtool.kernels import gaussian_kernel, mean_kernel


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernels(rng, size: int):
    yield gaussian_kernel(size / 6.0, radius=size // 2).array  # separable, symmetric
    yield rng.standard_normal((size, size))  # full rank
    if size >= 9:
        yield mean_kernel(size).array  # box
        yield rng.standard_normal((size, 2)) @ rng.standard_normal((2, size))  # rank 2


def fit(rows, times):
    """Non-negative ``x`` with ``rows @ x`` close to ``times`` in log space.

    Log residuals weigh a 2 ms run and a 2 s run alike, and one noisy run
    cannot pull the fit far (soft-L1 loss).
    """
    from scipy.optimize import least_squares

    rows, times = np.asarray(rows, float), np.asarray(times, float)
    start, *_ = np.linalg.lstsq(rows / times[:, None], np.ones(len(times)), rcond=None)
    start = np.log(np.clip(start, 1e-14, None))

    def residuals(logx):
        return np.log(rows @ np.exp(logx)) - np.log(times)

    return np.exp(least_squares(residuals, start, loss="soft_l1", f_scale=0.2).x)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grid, fewer repeats")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="skip runs estimated (by the current model) to take longer")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    repeat = 3
    shapes = [(256, 256, 3), (768, 1024, 3)] if args.quick else \
        [(256, 256, 3), (768, 1024, 3), (1500, 2000, 3)]
    sizes = [3, 9, 31] if args.quick else [3, 7, 15, 31, 63, 127]

    direct_rows, direct_times, fft_rows, fft_times = [], [], [], []
    for shape in shapes:
        a = rng.random(shape, dtype=np.float32)
        for size in sizes:
            for k in kernels(rng, size):
                plan = engine.plan(a.shape, k, dtype=a.dtype)
                if plan.seconds["direct"] < args.budget:
                    t = median_time(lambda a=a, k=k: engine.convolve(a, k, method="direct"), repeat)
                    work, kind = plan.work["direct"], plan.direct[0]
                    box = a.size if kind == "box" else 0.0
                    # The box's column passes are a constant to fit: move them out of ``work``.
                    passes = work - box * planner.BOX_COLUMN_OPS
                    direct_rows.append([passes, box, 1.0])
                    direct_times.append(t)
                if plan.seconds["fft"] < args.budget:
                    t = median_time(lambda a=a, k=k: engine.convolve(a, k, method="fft"), repeat)
                    units, units2, passes = plan.work["fft"]
                    fft_rows.append([units, units2, passes, 1.0])
                    fft_times.append(t)
        print(f"measured {shape}", flush=True)

    d_cost, d_box, d_over = fit(direct_rows, direct_times)
    f1, f2, fp, f_over = fit(fft_rows, fft_times)
    print("\n# Paste into src/convtool/engine/planner.py:")
    print(f"DIRECT_COST = {d_cost:.3g}")
    print(f"BOX_COLUMN_OPS = {d_box / d_cost:.3g}")
    print(f"FFT_COST = {f1:.3g}")
    print(f"FFT2_COST = {f2:.3g}")
    print(f"FFT_PASS_COST = {fp:.3g}")
    print(f"OVERHEAD = {max(0.5 * (d_over + f_over), 1e-5):.3g}")
    for name, rows, times, x in (("direct", direct_rows, direct_times, [d_cost, d_box, d_over]),
                                 ("fft", fft_rows, fft_times, [f1, f2, fp, f_over])):
        ratio = (np.asarray(rows) @ np.asarray(x)) / np.asarray(times)
        print(f"# {name}: {len(times)} runs, model/measured from {ratio.min():.2f} "
              f"to {ratio.max():.2f} (median {np.median(ratio):.2f})")


if __name__ == "__main__":
    main()
