"""Batch files per second, whole process: ``convtool --jobs 2`` against ``xargs -P2 vips``.

The issue's batch case: 200 mixed 640x480 images (half JPEG quality 90, half PNG)
made from the sample photos, each blurred with sigma 2 into a fresh output folder.
The contenders run in turn, round after round (A B A B ...), so load on the shared
machine hits them alike; the figure is files per second as the median over the
rounds, and convtool's time divided by the peer's, as the median of the per-round
ratios. The first round warms the caches and is not counted.

    PYTHONPATH=src python benchmarks/bench_batch_whole.py            # 5 rounds
    PYTHONPATH=src python benchmarks/bench_batch_whole.py -n 3 --count 100
    PYTHONPATH=src python benchmarks/bench_batch_whole.py --before /path/to/old/checkout/src

Peers (each skipped when absent): ``vips gaussblur IN OUT 2 --precision float
--min-ampl 0.001`` once per file through ``xargs -P2`` (vips' own threads as it
sets them), and ImageMagick's ``mogrify -gaussian-blur 0x2`` over the whole folder
(``--mogrify``: slow, off by default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


def build(folder: Path, count: int) -> list[Path]:
    """``count`` 640x480 crops of the sample photos, alternately JPEG and PNG."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for path in sorted(SAMPLES.glob("*.png")):
        with Image.open(path) as im:
            photos.append(im.convert("RGB").resize((1280, 960), Image.Resampling.BICUBIC))
    paths = []
    for i in range(count):
        ext = ".jpg" if i % 2 else ".png"
        path = folder / f"img{i:03d}{ext}"
        if not path.exists():
            im = photos[i % len(photos)]
            x, y = (37 * i) % (im.width - 640), (53 * i) % (im.height - 480)
            im.crop((x, y, x + 640, y + 480)).save(path, **({"quality": 90} if i % 2 else {}))
        paths.append(path)
    return paths


def contenders(inputs: Path, paths: list[Path], mogrify: bool,
               before: str | None = None) -> dict[str, str]:
    """Shell command lines writing into ``{out}`` (a fresh folder each run)."""
    cmds = {"convtool": f"{sys.executable} -m convtool blur {inputs} --out-dir {{out}} "
                        "--sigma 2 --jobs 2"}
    if before:  # another checkout's convtool, run from its own source tree
        cmds["before"] = f"env PYTHONPATH={before} {cmds['convtool']}"
    if shutil.which("vips"):
        cmds["xargs vips"] = (f"cd {inputs} && ls | xargs -P2 -I@ vips gaussblur @ {{out}}/@ 2 "
                              "--precision float --min-ampl 0.001")
    if mogrify and shutil.which("mogrify"):
        cmds["mogrify"] = (f"mogrify -path {{out}} -gaussian-blur 0x2 "
                           f"{' '.join(str(p) for p in paths)}")
    return cmds


def run(command: str, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    proc = subprocess.run(command.replace("{out}", str(out)), shell=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return wall


def main() -> None:
    # Installed code runs from compiled bytecode; see bench_whole.py.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/convtool-bench-batch"))
    parser.add_argument("--mogrify", action="store_true", help="also time ImageMagick")
    parser.add_argument("--before", metavar="SRC",
                        help="also time the convtool in this source folder (e.g. an older "
                             "checkout's src/), as the contender 'before'")
    args = parser.parse_args()
    # This checkout's convtool, whatever the caller's working folder.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    inputs = args.dir / f"in-{args.count}"
    paths = build(inputs, args.count)
    cmds = contenders(inputs, paths, args.mogrify, args.before)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(args.rounds + 1):
        for name, command in cmds.items():
            wall = run(command, args.dir / "out")
            if i:
                walls[name].append(wall)
    print(f"{args.count} files (640x480, half JPEG q90, half PNG), blur sigma 2, "
          f"median of {args.rounds}")
    print(f"{'tool':12} {'wall s':>8} {'files/s':>8} {'convtool/tool':>14}")
    for name, times in walls.items():
        ratio = statistics.median(a / b for a, b in zip(walls["convtool"], times, strict=True))
        median = statistics.median(times)
        print(f"{name:12} {median:8.2f} {args.count / median:8.1f} {ratio:14.2f}")


if __name__ == "__main__":
    main()
