"""Whole-process timings: ``convtool blur`` against ``vips gaussblur`` and an OpenCV script.

Users time the whole command, file to file, so this times whole processes:
interpreter start, imports, decode, filter, encode, write and exit. Each case
runs every contender in turn (A B C, A B C, ...) so that load on a shared
machine hits them alike; it prints each contender's median wall time, its
peak resident memory (the kernel's ``ru_maxrss`` of the finished child, as
``/usr/bin/time -v`` reports it), the output's size, and convtool's time
divided by each peer's, as the median of the per-round ratios.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_whole.py            # 5 rounds, all cases
    PYTHONPATH=src python benchmarks/bench_whole.py -n 3 --case png-12mp --case small

The test images are built once into ``--dir`` (default ``/tmp/convtool-bench``)
from ``sample_images/astronaut.png`` upscaled with Pillow (bicubic): 4000x3000
and 1000x750 RGB as PNG and as JPEG quality 90, and a 64x64 PNG for start-up.

Peers: ``vips`` (libvips-tools; skipped when absent), run as
``vips gaussblur IN OUT 2 --precision float --min-ampl 0.001`` (float precision,
a kernel reaching where the Gaussian falls under 0.001: the same exactness class
as convtool's 4-sigma float32 kernel), and OpenCV (``cv2``): imread,
``GaussianBlur`` with convtool's 17x17 kernel and reflect border, imwrite.
Each tool writes PNG at its own default zlib level (convtool 3, vips 6,
OpenCV 1), so the sizes column matters when reading the PNG rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_images" / "astronaut.png"

OPENCV_SCRIPT = """\
import sys, cv2
im = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
cv2.imwrite(sys.argv[2], cv2.GaussianBlur(im, (17, 17), 2, borderType=cv2.BORDER_REFLECT))
"""

# name: (input file, output extension)
CASES = {
    "png-12mp": ("in-4000x3000.png", ".png"),
    "jpeg-12mp": ("in-4000x3000.jpg", ".jpg"),
    "png-0.75mp": ("in-1000x750.png", ".png"),
    "jpeg-0.75mp": ("in-1000x750.jpg", ".jpg"),
    "small": ("in-64x64.png", ".png"),
}


def build_images(folder: Path) -> None:
    """Write the test images into ``folder`` unless they are there already."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(SAMPLE) as src:
        src = src.convert("RGB")
        for w, h in ((4000, 3000), (1000, 750), (64, 64)):
            big = None
            for ext, params in ((".png", {}), (".jpg", {"quality": 90})):
                path = folder / f"in-{w}x{h}{ext}"
                if path.exists() or (w == 64 and ext == ".jpg"):
                    continue
                big = big or src.resize((w, h), Image.Resampling.BICUBIC)
                big.save(path, **params)
    (folder / "cv_blur.py").write_text(OPENCV_SCRIPT)


def contenders(folder: Path, only: list[str], before: str | None = None
               ) -> dict[str, list[str]]:
    """The commands to time, as argv templates with ``{in}`` and ``{out}``."""
    cmds = {"convtool": [sys.executable, "-m", "convtool", "blur", "{in}", "{out}",
                         "--sigma", "2"]}
    if shutil.which("vips"):
        cmds["vips"] = ["vips", "gaussblur", "{in}", "{out}", "2", "--precision", "float",
                        "--min-ampl", "0.001"]
    if importlib.util.find_spec("cv2") is not None:
        cmds["opencv"] = [sys.executable, str(folder / "cv_blur.py"), "{in}", "{out}"]
    if before:  # another checkout's convtool, run from its own source tree
        cmds["before"] = ["env", f"PYTHONPATH={before}", *cmds["convtool"]]
    return {k: v for k, v in cmds.items() if not only or k in only}


def run_once(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one finished child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss * 1024


def run_case(name: str, folder: Path, cmds: dict[str, list[str]], rounds: int) -> None:
    source, ext = CASES[name]
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[int]] = {k: [] for k in cmds}
    sizes: dict[str, int] = {}
    for i in range(rounds + 1):  # the first round warms the caches and is not counted
        for tool, template in cmds.items():
            out = folder / f"out-{tool}{ext}"
            argv = [str(folder / source) if a == "{in}" else str(out) if a == "{out}" else a
                    for a in template]
            # Each tool writes a fresh file: convtool refuses to replace a file it did not
            # write (the two-path overwrite rule), and an old one would be timed differently.
            out.unlink(missing_ok=True)
            wall, peak = run_once(argv)
            if i:
                walls[tool].append(wall)
                rss[tool].append(peak)
            sizes[tool] = out.stat().st_size
    print(f"\n== {name}: {source} -> {ext}, median of {rounds} ==")
    print(f"{'tool':10} {'wall s':>8} {'min':>7} {'max':>7} {'peak MB':>8} {'out KB':>8}"
          f" {'convtool/tool':>14}")
    for tool in cmds:
        pairs = zip(walls["convtool"], walls[tool], strict=True)
        ratio = statistics.median(a / b for a, b in pairs)
        print(f"{tool:10} {statistics.median(walls[tool]):8.3f} {min(walls[tool]):7.3f} "
              f"{max(walls[tool]):7.3f} {max(rss[tool]) / 1e6:8.1f} {sizes[tool] / 1e3:8.0f}"
              f" {ratio:14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/convtool-bench"))
    parser.add_argument("--case", action="append", choices=sorted(CASES), default=[])
    parser.add_argument("--tool", action="append",
                        choices=["convtool", "vips", "opencv", "before"],
                        default=[])
    parser.add_argument("--before", metavar="SRC",
                        help="also time the convtool in this source folder (e.g. an older "
                             "checkout's src/), as the contender 'before'")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # This checkout's convtool, whatever the caller's working folder.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    # An installed convtool runs from compiled bytecode (pip compiles it); with
    # PYTHONDONTWRITEBYTECODE set, a source tree would be recompiled on every run
    # (~0.05 s of every start-up). The uncounted first round writes the bytecode.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # Built in a child: a child's peak RSS counts its parent's at the fork, so this
    # process stays small (no Pillow, no cv2) for the peak-memory column to be true.
    if args.build_only:
        build_images(args.dir)
        return
    subprocess.run([sys.executable, __file__, "--build-only", "--dir", str(args.dir)],
                   check=True)
    cmds = contenders(args.dir, args.tool, args.before)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for name in args.case or list(CASES):
        run_case(name, args.dir, cmds, args.rounds)


if __name__ == "__main__":
    main()
