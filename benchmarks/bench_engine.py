"""Side-by-side timings of convtool's engine against its peers.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_engine.py            # full: a 4000x3000 RGB photo
    PYTHONPATH=src python benchmarks/bench_engine.py --quick    # small, under a minute

Prints one table per part:

1. operations on a photo-like float32 RGB image (astronaut.png upscaled with
   Pillow, plus a little noise): median seconds of convtool (``method="auto"``,
   default threads) and of each peer that is installed (scipy.ndimage,
   scipy.signal.fftconvolve on a reflect-padded copy so the result is the same,
   OpenCV float32 with BORDER_REFLECT, which is our ``reflect``), the ratio
   convtool/peer, and convtool's largest error against a float64 reference,
   absolute and relative to the reference's largest value;
2. the ``auto`` grid: image sizes by kernel sizes, separable and not, with the
   direct and FFT medians, auto's choice and the ratio of the chosen method's
   time to the better of the two (worst ratio printed last);
3. (full run, or ``--memory``) the engine's peak memory by tracemalloc.

Runs of the contenders are interleaved, so load on a shared machine hits them
alike; medians are quoted. A peer that would take more than ``--budget``
seconds per run is skipped, with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import pathlib
import statistics
import time
import tracemalloc

import numpy as np
from PIL import Image

from convtool import engine
from convtool.kernels import gaussian_kernel, mean_kernel

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAVE_SCIPY = importlib.util.find_spec("scipy") is not None
HAVE_CV2 = importlib.util.find_spec("cv2") is not None


def photo(height: int, width: int) -> np.ndarray:
    """A photo-like float32 RGB image in [0, 1]: a real photo upscaled, plus sensor-like noise."""
    src = Image.open(ROOT / "sample_images" / "astronaut.png").convert("RGB")
    big = src.resize((width, height), Image.Resampling.BICUBIC)
    a = np.asarray(big, dtype=np.float32) / 255.0
    noise = np.random.default_rng(0).standard_normal(a.shape, dtype=np.float32) * 0.02
    return np.clip(a + noise, 0.0, 1.0)


def interleaved_medians(contenders: dict, repeat: int) -> dict:
    """Median seconds of each callable, running them in turn ``repeat`` times."""
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# --- Part 1: operations against peers --------------------------------------------------


def operations(quick: bool):
    rng = np.random.default_rng(42)
    ops = [
        ("gaussian s=1", "gauss", 1.0),
        ("gaussian s=2", "gauss", 2.0),
        ("gaussian s=5", "gauss", 5.0),
        ("gaussian s=20", "gauss", 20.0),
        ("mean 3x3", "mean", 3),
        ("mean 15x15", "mean", 15),
        ("mean 101x101", "mean", 101),
        ("custom 5x5", "custom", rng.standard_normal((5, 5))),
        ("custom 21x21", "custom", rng.standard_normal((21, 21))),
        ("custom 63x63", "custom", rng.standard_normal((63, 63))),
    ]
    return ops


def kernel_of(kind, arg) -> np.ndarray:
    if kind == "gauss":
        return gaussian_kernel(arg).array
    if kind == "mean":
        return mean_kernel(arg).array
    return arg


def peers(a: np.ndarray, kind, arg, k: np.ndarray) -> dict:
    """Callables giving the same result as ``convolve(a, k)`` (reflect mode)."""
    out = {}
    if HAVE_SCIPY:
        import scipy.ndimage as ndi
        import scipy.signal as sps

        if kind == "gauss":
            out["scipy.ndimage"] = lambda: ndi.gaussian_filter(a, (arg, arg, 0), mode="reflect")
        elif kind == "mean":
            out["scipy.ndimage"] = lambda: ndi.uniform_filter(a, (arg, arg, 1), mode="reflect")
        else:
            out["scipy.ndimage"] = lambda: ndi.convolve(a, k[:, :, None], mode="reflect")
        kh, kw = k.shape
        widths = (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0))
        k32 = k.astype(np.float32)[:, :, None]
        out["fftconvolve"] = lambda: sps.fftconvolve(
            np.pad(a, widths, mode="symmetric"), k32, mode="valid", axes=(0, 1))
    if HAVE_CV2:
        import cv2

        if kind == "gauss":
            size = 2 * int(4.0 * arg + 0.5) + 1
            out["OpenCV f32"] = lambda: cv2.GaussianBlur(
                a, (size, size), arg, sigmaY=arg, borderType=cv2.BORDER_REFLECT)
        elif kind == "mean":
            out["OpenCV f32"] = lambda: cv2.boxFilter(
                a, -1, (arg, arg), normalize=True, borderType=cv2.BORDER_REFLECT)
        else:
            # filter2D correlates: flip for a convolution. Odd sizes: same origin.
            flipped = np.ascontiguousarray(k[::-1, ::-1], dtype=np.float32)
            out["OpenCV f32"] = lambda: cv2.filter2D(a, -1, flipped,
                                                     borderType=cv2.BORDER_REFLECT)
    return out


def reference(a: np.ndarray, kind, arg, k: np.ndarray) -> np.ndarray:
    """float64 reference: scipy.ndimage for the separable filters, an exact FFT otherwise."""
    import scipy.ndimage as ndi
    import scipy.signal as sps

    a64 = a.astype(np.float64)
    if kind == "gauss":
        return ndi.gaussian_filter(a64, (arg, arg, 0), mode="reflect")
    if kind == "mean":
        return ndi.uniform_filter(a64, (arg, arg, 1), mode="reflect")
    kh, kw = k.shape
    widths = (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0))
    return sps.fftconvolve(np.pad(a64, widths, mode="symmetric"), k[:, :, None],
                           mode="valid", axes=(0, 1))


# Rough seconds per run of the slow peers on a 4000x3000x3 image (this machine), to skip
# the ones over budget without running them.
SLOW_PEERS = {("scipy.ndimage", "custom 21x21"): 8.7, ("scipy.ndimage", "custom 63x63"): 80.0}


def part_operations(a: np.ndarray, repeat: int, budget: float) -> list[str]:
    scale = a.size / (4000 * 3000 * 3)
    names = ["scipy.ndimage", "fftconvolve", "OpenCV f32"]
    header = f"{'operation':<15} {'convtool':>9}"
    for n in names:
        header += f" | {n:>13} {'ratio':>6}"
    header += f" | {'max abs err':>11} {'rel err':>8}"
    lines = [header, "-" * len(header)]
    print("\n".join(lines), flush=True)
    results = {}
    for label, kind, arg in operations(quick=False):
        k = kernel_of(kind, arg)
        contenders = {"convtool": lambda k=k: engine.convolve(a, k)}
        notes = {}
        for name, fn in peers(a, kind, arg, k).items():
            estimate = SLOW_PEERS.get((name, label), 0.0) * scale
            if estimate > budget:
                notes[name] = f"skip>{budget:g}s"
                continue
            contenders[name] = fn
        med = interleaved_medians(contenders, repeat)
        got = engine.convolve(a, k)
        err = float(np.max(np.abs(got - reference(a, kind, arg, k)))) if HAVE_SCIPY else math.nan
        rel = err / float(np.max(np.abs(reference(a, kind, arg, k)))) if HAVE_SCIPY else math.nan
        row = f"{label:<15} {med['convtool']:9.3f}"
        for n in names:
            if n in med:
                row += f" | {med[n]:13.3f} {med['convtool'] / med[n]:6.2f}"
            else:
                row += f" | {notes.get(n, 'not installed'):>13} {'':>6}"
        row += f" | {err:11.2e} {rel:8.1e}"
        lines.append(row)
        print(row, flush=True)
        results[label] = med
    box = results["mean 101x101"]["convtool"] / results["mean 3x3"]["convtool"]
    lines.append(f"box time 101x101 / 3x3: {box:.2f}")
    print(lines[-1], flush=True)
    return lines


# --- Part 2: the auto grid ---------------------------------------------------------------


def part_grid(quick: bool, repeat: int, budget: float) -> list[str]:
    rng = np.random.default_rng(7)
    if quick:
        sizes = [(256, 256, 3), (512, 512, 3), (1024, 768, 3)]
        ksizes = [3, 15, 63]
    else:
        sizes = [(256, 256, 3), (1024, 768, 3), (2000, 1500, 3), (4000, 3000, 3)]
        ksizes = [3, 7, 15, 31, 63, 127]
    header = (f"{'image':>14} {'kernel':>12} {'direct':>9} {'fft':>9} {'auto':>7} "
              f"{'auto/best':>9}")
    lines = [header, "-" * len(header)]
    print(header, flush=True)
    worst = (0.0, "")
    for shape in sizes:
        a = rng.random(shape, dtype=np.float32)
        for ks in ksizes:
            for sep in (True, False):
                if sep:
                    k = gaussian_kernel(ks / 6.0, radius=ks // 2).array
                else:
                    k = rng.standard_normal((ks, ks))
                plan = engine.plan(a.shape, k, dtype=a.dtype)
                estimates, choice = plan.seconds, plan.method
                contenders, cells = {}, {}
                for m in ("direct", "fft"):
                    # A run far over budget is far slower than the other method; say so.
                    if estimates[m] > budget and estimates[m] > 20 * min(estimates.values()):
                        cells[m] = f"~{estimates[m]:.0f}*"
                    else:
                        contenders[m] = lambda m=m, k=k, a=a, p=plan: engine.convolve(
                            a, k, method=m, plan=p)
                med = interleaved_medians(contenders, repeat)
                for m, t in med.items():
                    cells[m] = f"{t:.4f}"
                ratio = med[choice] / min(med.values()) if choice in med else math.inf
                name = f"{'sep' if sep else 'full'} {ks}x{ks}"
                image = "x".join(str(s) for s in shape[:2])
                row = (f"{image:>14} {name:>12} {cells['direct']:>9} {cells['fft']:>9} "
                       f"{choice:>7} {ratio:9.2f}")
                lines.append(row)
                print(row, flush=True)
                if ratio > worst[0]:
                    worst = (ratio, f"{image} {name}")
    lines.append("* not run: the cost model's estimate, over budget and 20x the other method")
    lines.append(f"worst auto/best: {worst[0]:.2f} ({worst[1]})")
    print("\n".join(lines[-2:]), flush=True)
    return lines


# --- Part 3: memory ----------------------------------------------------------------------


def part_memory(a: np.ndarray) -> list[str]:
    rng = np.random.default_rng(3)
    lines = [f"engine peak memory above the input ({a.nbytes / 2**20:.0f} MiB), tracemalloc:"]
    for label, k in [("gaussian s=2", gaussian_kernel(2.0).array),
                     ("gaussian s=20", gaussian_kernel(20.0).array),
                     ("mean 101x101", mean_kernel(101).array),
                     ("custom 63x63", rng.standard_normal((63, 63)))]:
        tracemalloc.start()
        out = engine.convolve(a, k)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del out
        lines.append(f"  {label:<15} {peak / 2**20:7.0f} MiB (output {a.nbytes / 2**20:.0f} MiB)")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="convtool engine benchmark")
    parser.add_argument("--quick", action="store_true", help="small image and grid, < 1 min")
    parser.add_argument("--repeat", type=int, default=None, help="runs per timing (median)")
    parser.add_argument("--budget", type=float, default=None,
                        help="skip runs estimated to take longer than this (seconds)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--no-grid", action="store_true", help="skip the auto grid")
    args = parser.parse_args(argv)
    height, width = (750, 1000) if args.quick else (3000, 4000)
    repeat = args.repeat or (3 if args.quick else 5)
    budget = args.budget or (2.0 if args.quick else 20.0)
    print(f"numpy {np.__version__}, threads {len(os.sched_getaffinity(0))}", flush=True)
    if not HAVE_SCIPY:
        print("note: scipy not installed: scipy peers and the error column skipped")
    if not HAVE_CV2:
        print("note: opencv-python not installed: OpenCV peer skipped")
    print("note: ImageMagick is not benchmarked (its Q16 integer pipeline is not float32)")
    a = photo(height, width)
    print(f"\n== operations, {width}x{height} RGB float32, reflect, median of {repeat} ==")
    part_operations(a, repeat, budget)
    if not args.no_grid:
        print(f"\n== auto grid, median of {max(1, repeat - 2)} ==")
        part_grid(args.quick, max(1, repeat - 2), budget)
    if args.memory or not args.quick:
        print("\n== memory ==")
        part_memory(a)


if __name__ == "__main__":
    main()
