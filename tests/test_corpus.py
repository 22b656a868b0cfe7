"""The committed corpus (tests/corpus: PngSuite and Pillow test images) through the CLI.

Each file is blurred as ``benchmarks/corpus_sweep.py`` does (``convtool blur FILE
out.<same ext> --sigma 1.5``) and judged by the same code: the output keeps
size, colour kind, bit depth, alpha, frames and durations, with pixels within
one level of a float64 scipy reference blur; or the file is refused in one
clean line, and only because it is damaged, too large, or the output format
cannot hold it. The whole downloaded corpora run with the script.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convtool.cli import app

HERE = Path(__file__).parent
CORPUS_DIR = HERE / "corpus"
FILES = sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file() and p.name != "LICENSE")

_spec = importlib.util.spec_from_file_location(
    "corpus_sweep", HERE.parent / "benchmarks" / "corpus_sweep.py")
sweep = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("corpus_sweep", sweep)  # its dataclasses look their module up
_spec.loader.exec_module(sweep)

#: The classes a file may end in: faithful output or a truthful refusal.
ACCEPTED = {"OK", "REFUSED-damaged", "REFUSED-too-large", "REFUSED-format-limit"}

#: Files that stand for one problem found in the sweep, and the class each must be in.
PINNED = {
    "pngsuite/tbbn0g04.png": "OK",  # 4-bit grey tRNS: the key is stored at 4 bits
    "pngsuite/tbrn2c08.png": "OK",  # RGB tRNS
    "pillow/l_trns.png": "OK",
    "pillow/rgb_trns.png": "OK",
    "pillow/1_trns.png": "OK",  # 1-bit tRNS
    "pillow/transparent_dispose.gif": "OK",  # disposal, transparent index per frame
    "pillow/dispose_bgnd_rgba.gif": "OK",
    "pillow/apng_delay.png": "OK",  # APNG default image stays the default image
    "pillow/apng_single_frame_default.png": "OK",
    "pillow/apng_mode_16bit.png": "OK",  # 16-bit APNG, hidden default image: was refused
    "pillow/g4_orientation_6.tif": "OK",  # EXIF orientation kept with the stored pixels
    "pillow/app13.jpg": "OK",  # a 4x4 JPEG at its own (low) quality tables
    "pillow/tiff_16bit_RGBa.tiff": "OK",  # premultiplied 16-bit alpha
    "pillow/tiff_tiled_planar_16bit_RGBa.tiff": "OK",  # planar: one plane a channel
    "pillow/tiff_strip_cmyk_16l_jpeg.tif": "OK",  # 16-bit CMYK: was refused
    "pillow/16_bit_binary.pgm": "OK",  # 16-bit greyscale PGM was refused as 16-bit colour
    "pillow/16bit.s.tif": "OK",  # signed 16-bit TIFF, likewise
    "pillow/rgb16-565.bmp": "OK",  # RGB565: 16 bits per pixel, not per channel
    "pillow/frame_size.mpo": "OK",  # MPO to MPO, both pictures
    "pillow/multi_picture_named.jpg": "OK",  # an MPO named .jpg: was refused
    "pillow/sugarshack_bad_mpo_header.jpg": "OK",  # intact JPEG, damaged MPO header
    "pillow/unknown_compression_method.png": "OK",  # bad CRC on an ancillary chunk only
    "pillow/rgba32.bmp": "REFUSED-format-limit",  # BMP would drop the alpha
    "pillow/crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif": "REFUSED-damaged",  # bad G4
    "pillow/crash-74d2a78403a5a59db1fb0a2b8735ac068a75f6e3.tif": "REFUSED-damaged",
    "pillow/hopper_webp.tif": "OK",  # WebP-in-TIFF: Pillow's libtiff lacks WebP; tifffile reads it
    "pillow/libtiff_segfault.tif": "REFUSED-damaged",
    "pillow/unimplemented_pfflags.dds": "REFUSED-damaged",  # was an internal error
    "pngsuite/xcsn0g01.png": "REFUSED-damaged",  # bad IDAT checksum
}


def _name(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


def run_and_classify(path: Path, tmp_path: Path, capfd) -> tuple[str, str]:
    """Blur ``path`` through the CLI in this process; the sweep's (class, detail)."""
    out = tmp_path / ("out" + sweep.writable_ext(str(path)))
    capfd.readouterr()
    result = CliRunner().invoke(app, sweep.blur_args(str(path), str(out)))
    err = result.stderr + capfd.readouterr().err  # libtiff writes to fd 2 directly
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += f"\nTraceback: {type(result.exception).__name__}: {result.exception}"
    return sweep.classify(str(path), str(out), result.exit_code, err)


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_corpus_file_is_kept_or_truthfully_refused(path, tmp_path, capfd):
    cls, detail = run_and_classify(path, tmp_path, capfd)
    assert cls in ACCEPTED, f"{_name(path)}: {cls}: {detail}"
    if _name(path) in PINNED:
        assert cls == PINNED[_name(path)], f"{_name(path)}: {cls}: {detail}"


def test_pinned_files_are_in_the_corpus():
    assert set(PINNED) <= {_name(p) for p in FILES}


def test_corpus_is_small_and_licensed():
    assert sum(p.stat().st_size for p in FILES) < 2_000_000
    for folder in {p.relative_to(CORPUS_DIR).parts[0] for p in FILES}:
        assert (CORPUS_DIR / folder / "LICENSE").is_file(), folder
