"""Hostile input: the bad-input matrix, one table of cases, one parametrised test.

convtool runs unattended in scripts on files it did not make, so every bad
input, kernel, parameter and output must fail loudly, clearly and safely.
Each row of :data:`CASES` is one case::

    (id, argv template, exit code, message fragment, setup fixture[, via[, root_code]])

- The argv template is split on spaces after ``str.format`` with the paths the
  setup fixture returns (``{input}``, ``{out}``, ``{dir}``, ``{kernel}``, ...).
- The setup fixture (defined below, by name) builds the files in a fresh folder
  and returns those paths; every fixture starts from :func:`work`, which holds
  a small RGB PNG as ``{input}`` and names ``{out}`` (not created).
- ``via`` is ``"runner"`` (typer's CliRunner, in-process; the default),
  ``"process"`` (``python -m convtool`` in a subprocess) or ``"both"``.
- ``root_code`` is the exit code expected when the tests run as root, for the
  cases where file permissions do not bind root; ``None`` means the same.

For a failure (exit code 1 or 2) the test checks: stdout is empty; stderr is one
line starting ``convtool: error:`` that contains the fragment (formatted with the
same paths, so it can name the file); no ``Traceback`` anywhere; and every file in
the folder, inputs and any existing output, is byte-for-byte and mode-for-mode
as it was: no output, no partial file, no leftover ``.convtool-*`` temporary.
For exit code 0 the only change allowed is a new, whole ``{out}`` image of the
input's size. To add a case, add one line to ``CASES`` (and a setup fixture
if none of the existing ones builds the files it needs).

The fuzz tests at the end feed random bytes and mutated (bit-flipped,
truncated, spliced) small PNG and JPEG files to ``blur`` and check the same
promises: exit 0 with a whole image, or exit 1 with one error line and nothing
written. ``CONVTOOL_FUZZ_EXAMPLES=2000`` runs more examples than the default.

Cases that need a feature not yet on ``main`` are in :data:`PENDING_CASES`,
which no test reads; move a line into ``CASES`` once its feature is merged.
"""

# One case per line in CASES, however long: the table reads as a table.
# ruff: noqa: E501

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from convtool.cli import app

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
KERNEL = "convolve {input} {out} --kernel {kernel}"

# id, argv template, exit code, message fragment, setup fixture[, via[, root_code]]
CASES = [
    # ---- Inputs ----
    ("missing-input", "blur -s 1 {dir}/missing.png {out}", 1, "missing.png: no such file", "work", "both"),
    ("input-is-folder", "blur -s 1 {dir} {out}", 2, "{dir}: is a folder", "work"),
    ("empty-file", "blur -s 1 {input} {out}", 1, "{input}: not an image file", "empty_input"),
    ("text-named-png", "blur -s 1 {input} {out}", 1, "{input}: not an image file", "text_as_png"),
    ("truncated-png", "blur -s 1 {input} {out}", 1, "{input}: cannot decode", "truncated_png", "both"),
    ("truncated-jpeg", "blur -s 1 {input} {out}", 1, "{input}: cannot decode", "truncated_jpeg"),
    ("bad-crc-header", "blur -s 1 {input} {out}", 1, "{input}: not an image file", "bad_crc_ihdr"),
    ("bad-crc-pixels", "blur -s 1 {input} {out}", 1, "{input}: cannot decode", "bad_crc_idat"),
    ("corrupt-pixels", "blur -s 1 {input} {out}", 1, "{input}: cannot decode", "corrupt_idat"),
    ("bomb-declared", "blur -s 1 {input} {out}", 1, "{input}: 30000x30000 is 900,000,000 pixels, more than the limit", "bomb_png", "both"),
    ("bomb-warned", "blur -s 1 {input} {out}", 1, "pixels, more than the limit", "bomb_warning_png", "both"),
    ("stdin-empty", "blur -s 1 - {out}", 1, "<stdin>: no data", "work", "both"),
    ("max-pixels", "blur -s 1 {input} {out} --max-pixels 100", 1, "{input}", "work"),
    ("no-clobber", "blur -s 1 {input} {out} --no-clobber", 1, "{out}", "existing_output"),
    ("out-dir-is-file", "blur -s 1 {input} --out-dir {input}", 2, "--out-dir {input}: exists and is not a folder", "work"),
    ("unsupported-mode", "blur -s 1 {input} {out}", 1, "{input}: image mode LAB", "lab_tiff"),
    ("one-pixel", "blur -s 1 {input} {out} --sigma 3", 0, "", "one_pixel"),
    ("one-pixel-fft", "mean {input} {out} --size 5 --method fft --mode mirror", 0, "", "one_pixel"),
    ("one-row", "blur -s 1 {input} {out} --sigma 2 --mode mirror", 0, "", "one_row"),
    ("one-column", "mean {input} {out} --size 9 --mode wrap", 0, "", "one_column"),
    ("one-column-fft", "blur -s 1 {input} {out} --method fft --mode reflect", 0, "", "one_column"),
    # ---- Kernels ----
    ("kernel-missing", "convolve {input} {out} --kernel {dir}/nope.txt", 2, "nope.txt: no such file", "work"),
    ("kernel-is-folder", "convolve {input} {out} --kernel {dir}", 2, "{dir}: is a folder", "work"),
    ("kernel-empty", KERNEL, 2, "{kernel}: no numbers found", "kernel_empty"),
    ("kernel-comments-only", KERNEL, 2, "{kernel}: no numbers found", "kernel_comments"),
    ("kernel-ragged", KERNEL, 2, "{kernel}, line 2: 2 values, but line 1 has 3", "kernel_ragged"),
    ("kernel-non-numeric", KERNEL, 2, "{kernel}, line 1: 'x' is not a number", "kernel_text"),
    ("kernel-nan", KERNEL, 2, "{kernel}, line 2: 'nan' is not a finite number", "kernel_nan"),
    ("kernel-inf", KERNEL, 2, "{kernel}, line 1: '-inf' is not a finite number", "kernel_inf"),
    ("kernel-binary", KERNEL, 2, "{kernel}: not a text file", "kernel_binary"),
    ("kernel-npy-huge", KERNEL, 2, "{kernel}: a 10001x10001 kernel is too large", "kernel_npy_huge", "both"),
    ("kernel-text-too-wide", KERNEL, 2, "{kernel}, line 1: the kernel is too large", "kernel_too_wide"),
    ("kernel-npy-3d", KERNEL, 2, "{kernel}: holds a 3-D array", "kernel_npy_3d"),
    ("kernel-npy-complex", KERNEL, 2, "{kernel}: holds complex128", "kernel_npy_complex"),
    ("kernel-npy-garbage", KERNEL, 2, "{kernel}: not a readable .npy file", "kernel_npy_garbage"),
    ("kernel-larger-than-image", KERNEL, 0, "", "kernel_larger_than_image"),
    ("kernel-larger-than-image-fft", KERNEL + " --method fft --mode wrap", 0, "", "kernel_larger_than_image"),
    ("kernel-even", KERNEL + " --normalize sum", 0, "", "kernel_even"),
    ("kernel-zeros-normalize-sum", KERNEL + " --normalize sum", 2, "sum to 0", "kernel_zeros"),
    ("normalize-unknown", KERNEL + " --normalize maybe", 2, "maybe", "kernel_even"),
    ("kernel-spec-ragged", "convolve {input} {out} --kernel 1,2,3;4,5", 2, "row", "work"),
    ("kernel-spec-nan", "convolve {input} {out} --kernel 1,nan,1", 2, "nan", "work"),
    ("kernel-spec-huge-gaussian", "convolve {input} {out} --kernel gaussian:1e6", 2, "16385", "work"),
    ("kernel-spec-unknown-name", "convolve {input} {out} --kernel nosuchkernel", 2, "nosuchkernel", "work"),
    ("kernel-row", KERNEL + " --normalize sum --mode nearest", 0, "", "kernel_row"),
    # ---- Parameters ----
    ("sigma-negative", "blur -s 1 {input} {out} --sigma -1", 2, "sigma must be a positive", "work"),
    ("sigma-nan", "blur -s 1 {input} {out} --sigma nan", 2, "sigma must be a positive finite number", "work"),
    ("sigma-inf", "blur -s 1 {input} {out} --sigma inf", 2, "sigma must be a positive finite number", "work"),
    ("sigma-huge", "blur -s 1 {input} {out} --sigma 1e6", 2, "at most 16385 are allowed", "work", "both"),
    ("sigma-too-big-2d", "blur -s 1 {input} {out} --sigma 1000", 2, "kernel is too large", "work"),
    ("sigma-not-a-number", "blur -s 1 {input} {out} --sigma abc", 2, "Invalid value for '--sigma'", "work"),
    ("size-zero", "mean {input} {out} --size 0", 2, "size must be a whole number >= 1", "work"),
    ("size-negative", "mean {input} {out} --size -3", 2, "size must be a whole number >= 1", "work"),
    ("size-huge", "mean {input} {out} --size 100000", 2, "kernel is too large", "work"),
    ("mode-unknown", "blur -s 1 {input} {out} --mode sideways", 2, "unknown mode 'sideways'", "work"),
    ("method-unknown", "blur -s 1 {input} {out} --method magic", 2, "unknown method 'magic'", "work"),
    ("cval-above-one", "blur -s 1 {input} {out} --mode constant --cval 2", 2, "not between 0 and 1", "work"),
    ("cval-255", "blur -s 1 {input} {out} --mode constant --cval 255", 2, "not between 0 and 1", "work"),
    ("cval-negative", "blur -s 1 {input} {out} --mode constant --cval -0.5", 2, "not between 0 and 1", "work"),
    ("cval-nan", "blur -s 1 {input} {out} --mode constant --cval nan", 2, "nan is not a finite number", "work"),
    ("cval-inf", "blur -s 1 {input} {out} --mode constant --cval inf", 2, "inf is not a finite number", "work"),
    ("only-one-path", "blur -s 1 {input}", 2, "expected INPUT and OUTPUT, got 1 path", "work"),
    ("three-paths", "blur -s 1 {input} {out} {dir}/c.png", 2, "expected INPUT and OUTPUT, got 3", "work"),
    ("unknown-option", "blur -s 1 {input} {out} --sigmaa 2", 2, "No such option: --sigmaa", "work"),
    # ---- Outputs ----
    ("output-folder-missing", "blur -s 1 {input} {dir}/nowhere/out.png", 1, "{dir}/nowhere/out.png: the folder {dir}/nowhere does not exist", "work", "both"),
    ("output-folder-unwritable", "blur -s 1 {input} {out}", 1, "{out}: cannot write in {dir}/locked (Permission denied)", "locked_folder", "runner", 0),
    ("output-parent-is-file", "blur -s 1 {input} {input}/out.png", 1, "Not a directory", "work"),
    ("output-is-input", "blur -s 1 {input} {input}", 2, "the output is the input file", "work", "both"),
    ("output-is-input-other-spelling", "blur -s 1 {input} {dir}/./in.png", 2, "the output is the input file", "work"),
    ("output-is-input-symlink", "blur -s 1 {input} {dir}/link.png", 2, "the output is the input file", "symlink_to_input"),
    ("output-is-input-hardlink", "blur -s 1 {input} {dir}/hard.png", 2, "the output is the input file", "hardlink_to_input"),
    ("output-unknown-extension", "blur -s 1 {input} {dir}/out.xyz", 2, "extension '.xyz'", "work"),
    ("output-no-extension", "blur -s 1 {input} {dir}/out", 2, "extension '(none)'", "work"),
    ("output-is-folder", "blur -s 1 {input} {dir}/folder.png", 1, "{dir}/folder.png: is a folder", "folder_named_png"),
    ("output-jpeg-alpha", "blur -s 1 {input} {dir}/out.jpg", 2, "JPEG cannot store an alpha", "rgba_png"),
    ("output-disk-full", "blur -s 1 {input} {out} --overwrite", 1, "{out}: cannot write (No space left on device)", "disk_full"),
    ("output-read-only", "blur -s 1 {input} {out}", 1, "{out}: the existing output is read-only", "read_only_output"),
    ("output-existing-kept-on-bad-input", "blur -s 1 {input} {out} --overwrite", 1, "{input}: cannot decode", "truncated_png_existing_output"),
    ("output-existing-kept-on-bad-sigma", "blur -s 1 {input} {out} --sigma 1e6", 2, "at most 16385", "existing_output"),
    ("output-existing-kept-on-bad-kernel", KERNEL, 2, "{kernel}, line 2", "kernel_ragged_existing_output"),
    # ---- Round two (issue 14): memory and time bounded by what the user allowed ----
    ("bomb-gif-frames", "blur -s 1 {input} {out}", 1, ("{input}: 2,000 frames of 9000x9000 hold 162,000,000,000 pixels", "--max-pixels"), "gif_frames_bomb", "process"),
    ("bomb-apng-frames", "blur -s 1 {input} {out} --max-pixels 100000", 1, ("{input}: 20 frames of 100x100 hold 200,000 pixels", "--max-pixels"), "apng_frames", "process"),
    ("bomb-webp-frames", "blur -s 1 {input} {out} --max-pixels 100000", 1, ("{input}: 20 frames of 100x100 hold 200,000 pixels", "--max-pixels"), "webp_frames", "process"),
    ("bomb-tiff-pages", "blur -s 1 {input} {out} --max-pixels 10000", 1, ("{input}: 300 frames of 10x10 hold 30,000 pixels", "--max-pixels"), "tiff_pages", "process"),
    ("bomb-tiff-page-2", "blur -s 1 {input} {out}", 1, ("{input}: frame 2 of 2 is 10000x10000", "--max-pixels"), "tiff_big_page_2", "process"),
    ("bomb-gif-canvas-grows", "blur -s 1 {input} {out} --max-pixels 1000", 1, ("{input}: frame 2 of 2 is 40x40", "--max-pixels"), "gif_canvas_grows"),
    ("stdin-too-large", "blur -s 1 - {out} --max-pixels 100", 1, ("<stdin>: more than 1,049,376 bytes", "--max-pixels 100"), "stdin_zeros", "process"),
    ("kernel-dev-zero", "convolve {input} {out} --kernel /dev/zero", 2, "/dev/zero: not a regular file", "work", "process"),
    ("kernel-mat-dev-zero", KERNEL, 2, "{kernel}: not a regular file", "kernel_mat_dev_zero", "process"),
    ("kernel-fifo", KERNEL, 2, "{kernel}: not a regular file", "kernel_fifo", "process"),
    ("kernel-file-too-large", KERNEL, 2, "{kernel}: 2,147,483,648 bytes, more than", "kernel_sparse_huge", "process"),
    ("kernel-line-too-long", KERNEL, 2, "{kernel}, line 1: longer than", "kernel_long_line", "process"),
    ("kernel-npy-3d-huge", KERNEL, 2, "{kernel}: holds a 3-D array", "kernel_npy_3d_huge", "both"),
    # ---- Round two: writing only where the user meant ----
    ("suffix-separator", "blur -s 1 {input} --out-dir {dir}/out --suffix /../../x", 2, "--suffix '/../../x'", "work"),
    ("suffix-dot-dot", "blur -s 1 {input} --out-dir {dir}/out --suffix ..", 2, "--suffix '..'", "work"),
    ("kernel-dot-slash", "convolve {input} {out} --kernel ./k.txt", 0, "", "kernel_in_cwd", "both"),
    ("kernel-dot-dot", "convolve {input} {out} --kernel ../k.txt", 0, "", "kernel_in_parent_cwd"),
    ("kernel-digit-name", "convolve {input} {out} --kernel 1k.txt", 0, "", "kernel_in_cwd"),
    ("kernel-dot-slash-missing", "convolve {input} {out} --kernel ./nope.txt", 2, "./nope.txt: no such file", "kernel_in_cwd"),
    # ---- Round two: clean messages ----
    ("control-chars-in-name", "blur -s 1 {input} {out}", 1, "a\\x1b[31mred\\nforged.png: no such file", "control_char_name", "both"),
    ("control-chars-in-bad-file", "blur -s 1 {input} {out}", 1, "b\\x1b]0;title\\x07.png: not an image file", "control_char_bad_file"),
    ("control-chars-in-kernel-name", KERNEL, 2, "k\\x1b[2J.txt, line 1: 'x' is not a number", "control_char_kernel"),
    ("kernel-overflow", "convolve {input} {out} --kernel 1e308,1e308,1e308", 2, "overflow", "work", "both"),
    ("kernel-float32-overflow", "convolve {input} {out} --kernel 3e38,3e38", 2, "overflow", "work"),
    ("scale-overflow", "convolve -k gaussian:1 {input} {out} --scale 1e300", 2, "overflow", "work", "both"),
    ("bias-overflow", "convolve -k gaussian:1 {input} {out} --bias 1e308", 2, "overflow", "work"),
    ("amount-overflow", "sharpen {input} {out} --amount 1e300", 2, "overflow", "work"),
    ("log-sigma-underflow", "convolve {input} {out} --kernel log:1e-300", 2, "log: sigma 1e-300 is too small", "work", "both"),
    ("edges-log-sigma-underflow", "edges {input} {out} --operator log --sigma 1e-300", 2, "sigma 1e-300 is too small", "work"),
    ("float-image-overflow", "convolve {input} {dir}/out.tif --kernel 1,1,1", 2, "overflow", "float_tiff_near_max"),
    ("truncated-jpeg-with-eoi", "blur -s 1 {input} {out}", 1, ("{input}: cannot decode", "truncated"), "truncated_jpeg_with_eoi", "both"),
    ("jpeg-trailing-data", "blur -s 1 {input} {out}", 0, "", "jpeg_trailing_data"),
    ("jpeg-progressive", "blur -s 1 {input} {out}", 0, "", "jpeg_progressive"),
    ("output-ico", "blur -s 1 {input} {out}", 0, "", "ico_output"),
    ("output-ico-too-large", "blur -s 1 {input} {dir}/out.ico", 2, "ICO", "large_input"),
    ("output-icns", "blur -s 1 {input} {dir}/out.icns", 2, "ICNS", "work"),
    ("output-blp", "blur -s 1 {input} {dir}/out.blp", 2, "BLP", "work"),
    # ---- Bugs: an unexpected exception is one line too (--debug shows it: see below) ----
    ("internal-error", "blur -s 1 {input} {out}", 1, "internal error: RuntimeError: planted bug", "bug_in_filter"),
    ("internal-error-mid-write", "blur -s 1 {input} {out} --overwrite", 1, "internal error: RuntimeError: planted bug", "bug_while_saving"),
]

# Cases that need features other branches are building. No test reads this list:
# the lead moves each line into CASES once its feature is on main.
# Cases whose feature is not built yet go here (not collected); none are left.
PENDING_CASES: list = []


def _cases():
    for row in CASES:
        case_id, argv, code, fragment, setup, *rest = row
        via = rest[0] if rest else "runner"
        root_code = rest[1] if len(rest) > 1 else None
        if IS_ROOT and root_code is not None:
            code = root_code
        vias = ("runner", "process") if via == "both" else (via,)
        for v in vias:
            yield pytest.param(argv, code, fragment, setup, v, id=f"{case_id}-{v}")


# --------------------------------------------------------------------------
# Setup fixtures: each returns the paths the argv template may name.
# --------------------------------------------------------------------------


def _small_rgb() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "RGB")


def _chunks(data: bytes):
    """(type, offset, length) of each chunk of a PNG file."""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        yield data[pos + 4:pos + 8], pos, length
        pos += 12 + length


def _declared_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width x height`` with almost no pixel data."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.fixture
def work(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    _small_rgb().save(folder / "in.png")
    return {"dir": str(folder), "input": str(folder / "in.png"), "out": str(folder / "out.png")}


def _replace_input(work, data: bytes, name: str = "bad.png"):
    path = Path(work["dir"]) / name
    path.write_bytes(data)
    return {**work, "input": str(path)}


@pytest.fixture
def empty_input(work):
    return _replace_input(work, b"")


@pytest.fixture
def text_as_png(work):
    return _replace_input(work, b"this is a text file, not a PNG\n")


@pytest.fixture
def truncated_png(work):
    data = Path(work["input"]).read_bytes()
    return _replace_input(work, data[: len(data) // 2])


@pytest.fixture
def truncated_png_existing_output(truncated_png):
    Path(truncated_png["out"]).write_bytes(b"an existing output that must survive")
    return truncated_png


@pytest.fixture
def truncated_jpeg(work):
    buf = io.BytesIO()
    _small_rgb().resize((64, 48)).save(buf, format="JPEG")
    data = buf.getvalue()
    return _replace_input(work, data[: len(data) // 2], "bad.jpg")


def _flip_in_chunk(work, kind: bytes, where: str):
    data = bytearray(Path(work["input"]).read_bytes())
    for found, pos, length in _chunks(bytes(data)):
        if found == kind:
            data[pos + 8 + (length if where == "crc" else length // 2)] ^= 0x55
            return _replace_input(work, bytes(data))
    raise AssertionError(f"no {kind!r} chunk")


@pytest.fixture
def bad_crc_ihdr(work):
    return _flip_in_chunk(work, b"IHDR", "crc")


@pytest.fixture
def bad_crc_idat(work):
    return _flip_in_chunk(work, b"IDAT", "crc")


@pytest.fixture
def corrupt_idat(work):
    return _flip_in_chunk(work, b"IDAT", "data")


@pytest.fixture
def bomb_png(work):
    # 900 million pixels: more than twice Pillow's limit, so Pillow raises.
    return _replace_input(work, _declared_png(30000, 30000))


@pytest.fixture
def bomb_warning_png(work):
    # 100 million pixels: between Pillow's limit and twice it, where Pillow only warns.
    return _replace_input(work, _declared_png(10000, 10000))


@pytest.fixture
def lab_tiff(work):
    path = Path(work["dir"]) / "lab.tif"
    Image.new("LAB", (4, 3)).save(path)
    return {**work, "input": str(path)}


def _image_input(work, size):
    path = Path(work["dir"]) / "tiny.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), "L").save(path)
    return {**work, "input": str(path)}


@pytest.fixture
def one_pixel(work):
    return _image_input(work, (1, 1))


@pytest.fixture
def one_row(work):
    return _image_input(work, (9, 1))


@pytest.fixture
def one_column(work):
    return _image_input(work, (1, 9))


@pytest.fixture
def rgba_png(work):
    path = Path(work["dir"]) / "rgba.png"
    _small_rgb().convert("RGBA").save(path)
    return {**work, "input": str(path)}


def _kernel(work, text: str | bytes, name: str = "k.txt"):
    path = Path(work["dir"]) / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_empty(work):
    return _kernel(work, "")


@pytest.fixture
def kernel_comments(work):
    return _kernel(work, "# a kernel\n\n   # nothing here\n")


@pytest.fixture
def kernel_ragged(work):
    return _kernel(work, "1 2 1\n2 4\n1 2 1\n")


@pytest.fixture
def kernel_text(work):
    return _kernel(work, "1 x 1\n")


@pytest.fixture
def kernel_nan(work):
    return _kernel(work, "1 1\nnan 1\n")


@pytest.fixture
def kernel_inf(work):
    return _kernel(work, "-inf 1\n")


@pytest.fixture
def kernel_binary(work):
    return _kernel(work, bytes(range(256)) * 4)


@pytest.fixture
def kernel_zeros(work):
    return _kernel(work, "0 0 0\n0 0 0\n0 0 0\n")


@pytest.fixture
def kernel_npy_huge(work):
    # Only the header of a 10001 x 10001 float64 array (800 MB): it must be
    # refused from the header, before anything is allocated or read.
    path = Path(work["dir"]) / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (10001, 10001)})
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_too_wide(work):
    return _kernel(work, " ".join(["1"] * 16386) + "\n")


def _npy(work, array):
    path = Path(work["dir"]) / "k.npy"
    np.save(path, array)
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_npy_3d(work):
    return _npy(work, np.ones((3, 3, 3)))


@pytest.fixture
def kernel_npy_complex(work):
    return _npy(work, np.ones((3, 3), dtype=complex))


@pytest.fixture
def kernel_npy_garbage(work):
    return _kernel(work, b"\x93NUMPY garbage", "k.npy")


@pytest.fixture
def kernel_larger_than_image(work):
    return _kernel(work, "\n".join(" ".join(["1"] * 41) for _ in range(31)) + "\n")


@pytest.fixture
def kernel_even(work):
    return _kernel(work, "1 1 1 1\n1 2 2 1\n1 2 2 1\n1 1 1 1\n")


@pytest.fixture
def kernel_row(work):
    return _kernel(work, "1, 4, 6, 4, 1\n")


@pytest.fixture
def locked_folder(work):
    locked = Path(work["dir"]) / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    yield {**work, "out": str(locked / "out.png")}
    locked.chmod(0o755)


@pytest.fixture
def symlink_to_input(work):
    os.symlink(work["input"], Path(work["dir"]) / "link.png")
    return work


@pytest.fixture
def hardlink_to_input(work):
    os.link(work["input"], Path(work["dir"]) / "hard.png")
    return work


@pytest.fixture
def folder_named_png(work):
    (Path(work["dir"]) / "folder.png").mkdir()
    return work


@pytest.fixture
def existing_output(work):
    _small_rgb().transpose(Image.Transpose.ROTATE_180).save(work["out"])
    return work


@pytest.fixture
def disk_full(existing_output, monkeypatch):
    """Saving writes part of the file, then the disk is full."""

    def save(self, fp, format=None, **params):
        fp.write(b"\x89PNG\r\n\x1a\n partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", save)
    return existing_output


@pytest.fixture
def kernel_ragged_existing_output(kernel_ragged):
    _small_rgb().save(kernel_ragged["out"])
    return kernel_ragged


@pytest.fixture
def bug_in_filter(work, monkeypatch):
    """An unexpected exception where convtool filters: a bug, not a user error."""
    import convtool.pipeline.job

    def apply_job(job, image):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(convtool.pipeline.job, "apply_job", apply_job)
    return work


@pytest.fixture
def bug_while_saving(existing_output, monkeypatch):
    """An unexpected exception after part of the output is written."""

    def save(self, fp, format=None, **params):
        fp.write(b"\x89PNG\r\n\x1a\n partial")
        raise RuntimeError("planted bug")

    monkeypatch.setattr(Image.Image, "save", save)
    return existing_output


@pytest.fixture
def read_only_output(existing_output):
    os.chmod(existing_output["out"], 0o444)
    return existing_output


# ---- Round two (issue 14) ----


def gif_bytes(screen: tuple[int, int], frames) -> bytes:
    """A GIF with a ``screen`` (w, h) and one frame per (x, y, w, h), all palette index 0.

    Written by hand: Pillow merges identical frames when saving. The LZW data
    restarts (clear code) every two pixels, so every code stays 3 bits wide.
    """
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0))
    out += b"\0\0\0\xff\xff\xff" + b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for x, y, w, h in frames:
        out += b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", x, y, w, h, 0)
        codes = []
        for start in range(0, w * h, 2):
            codes += [4] + [0] * min(2, w * h - start)
        bits = nbits = 0
        data = bytearray()
        for code in [*codes, 5]:
            bits |= code << nbits
            nbits += 3
            while nbits >= 8:
                data.append(bits & 255)
                bits >>= 8
                nbits -= 8
        if nbits:
            data.append(bits)
        out += b"\x02"
        for i in range(0, len(data), 255):
            out += bytes([len(data[i:i + 255])]) + data[i:i + 255]
        out += b"\x00"
    return bytes(out + b"\x3b")


@pytest.fixture
def gif_frames_bomb(work):
    # 46 KB: 2,000 frames of one pixel on a 9000x9000 screen, which Pillow
    # decodes to 2,000 full screens (each within the default limit).
    return _replace_input(work, gif_bytes((9000, 9000), [(i % 97, 0, 1, 1) for i in range(2000)]),
                          "bomb.gif")


@pytest.fixture
def gif_canvas_grows(work):
    return _replace_input(work, gif_bytes((10, 10), [(0, 0, 10, 10), (0, 0, 40, 40)]), "grow.gif")


def _frames(work, name: str, count: int, size: int, **params):
    path = Path(work["dir"]) / name
    frames = [Image.new("L" if name.endswith(".tif") else "RGB", (size, size), (i * 37) % 256
                        if name.endswith(".tif") else ((i * 37) % 256, 0, 0)) for i in range(count)]
    frames[0].save(path, save_all=True, append_images=frames[1:], **params)
    with Image.open(path) as check:
        assert check.n_frames == count
    return {**work, "input": str(path)}


@pytest.fixture
def apng_frames(work):
    return _frames(work, "anim.png", 20, 100)


@pytest.fixture
def webp_frames(work):
    return _frames(work, "anim.webp", 20, 100, lossless=True)


@pytest.fixture
def tiff_pages(work):
    return _frames(work, "pages.tif", 300, 10)


@pytest.fixture
def tiff_big_page_2(work):
    # Page 2 is 10000x10000 (100 million pixels, over the default limit), zeros: 150 KB.
    path = Path(work["dir"]) / "two.tif"
    Image.new("L", (4, 4)).save(path, save_all=True, append_images=[Image.new("L", (10000, 10000))],
                                compression="tiff_deflate")
    return {**work, "input": str(path)}


@pytest.fixture
def stdin_zeros(work, tmp_path):
    path = tmp_path / "stdin.bin"
    with open(path, "wb") as f:
        f.truncate(2 * 1024 * 1024)
    return {**work, "stdin": str(path)}


@pytest.fixture
def kernel_mat_dev_zero(work):
    path = Path(work["dir"]) / "zero.mat"
    os.symlink("/dev/zero", path)
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_fifo(work):
    path = Path(work["dir"]) / "k.txt"
    os.mkfifo(path)
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_sparse_huge(work, tmp_path):
    # Outside the checked folder: the snapshot would hash its 2 GB of zeros.
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(2 * 1024**3)
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_long_line(work):
    return _kernel(work, "1" + " " * 2_000_000 + "1\n")


@pytest.fixture
def kernel_npy_3d_huge(work):
    # The header of a 100000^3 float64 array (8 PB): a kernel error, not "out of memory".
    path = Path(work["dir"]) / "cube.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000, 100000)})
    return {**work, "kernel": str(path)}


@pytest.fixture
def kernel_in_cwd(work, monkeypatch):
    (Path(work["dir"]) / "k.txt").write_text("1 2 1\n")
    (Path(work["dir"]) / "1k.txt").write_text("1 2 1\n")
    monkeypatch.chdir(work["dir"])
    return work


@pytest.fixture
def kernel_in_parent_cwd(work, monkeypatch):
    (Path(work["dir"]) / "k.txt").write_text("1 2 1\n")
    (Path(work["dir"]) / "sub").mkdir()
    monkeypatch.chdir(Path(work["dir"]) / "sub")
    return work


@pytest.fixture
def control_char_name(work):
    return {**work, "input": str(Path(work["dir"]) / "a\x1b[31mred\nforged.png")}


@pytest.fixture
def control_char_bad_file(work):
    return _replace_input(work, b"not an image", "b\x1b]0;title\x07.png")


@pytest.fixture
def control_char_kernel(work):
    return _kernel(work, "x 1\n", "k\x1b[2J.txt")


@pytest.fixture
def float_tiff_near_max(work):
    path = Path(work["dir"]) / "float.tif"
    Image.fromarray(np.full((8, 8), 3e38, dtype=np.float32), "F").save(path)
    return {**work, "input": str(path)}


def _jpeg(**params) -> bytes:
    buf = io.BytesIO()
    _small_rgb().resize((160, 120)).save(buf, format="JPEG", **params)
    return buf.getvalue()


@pytest.fixture
def truncated_jpeg_with_eoi(work):
    # The scan data is cut in the middle, and an EOI marker follows: libjpeg
    # fills the rest with grey and only warns.
    data = _jpeg()
    scan = data.index(b"\xff\xda")
    return _replace_input(work, data[: scan + (len(data) - scan) // 2] + b"\xff\xd9", "cut.jpg")


@pytest.fixture
def jpeg_trailing_data(work):
    return _replace_input(work, _jpeg() + b"trailing bytes after the image", "trail.jpg")


@pytest.fixture
def jpeg_progressive(work):
    return _replace_input(work, _jpeg(progressive=True), "prog.jpg")


@pytest.fixture
def ico_output(work):
    # Not square: Pillow's default icon sizes would stretch it to 16x16, 24x24, ...
    path = Path(work["dir"]) / "wide.png"
    _small_rgb().resize((50, 40)).save(path)
    return {**work, "input": str(path), "out": str(Path(work["dir"]) / "out.ico")}


@pytest.fixture
def large_input(work):
    path = Path(work["dir"]) / "large.png"
    _small_rgb().resize((300, 200)).save(path)
    return {**work, "input": str(path)}


# --------------------------------------------------------------------------
# The test.
# --------------------------------------------------------------------------


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: its bytes' hash and its permission bits."""
    state = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            digest = "link:" + os.readlink(path)
        else:
            digest = "folder"
        state[str(path.relative_to(folder))] = (digest, stat.S_IMODE(st.st_mode))
    return state


# Address space of a convtool run in a subprocess: a regression that reads or
# decodes without bound fails the test with "out of memory" instead of taking
# the shared machine's memory.
PROCESS_MEMORY = 3 * 1024**3


# The tests may change the working folder (kernel paths relative to it).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(Path(__file__).resolve().parent.parent / "src"), os.environ.get("PYTHONPATH", "")])}


def limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PROCESS_MEMORY, PROCESS_MEMORY))


def invoke(argv: list[str], via: str, stdin: str | None = None) -> tuple[int, str, str]:
    if via == "runner":
        data = Path(stdin).read_bytes() if stdin else ""
        result = CliRunner().invoke(app, argv, input=data)
        return result.exit_code, result.stdout, result.stderr
    with open(stdin or os.devnull, "rb") as source:
        proc = subprocess.run([sys.executable, "-m", "convtool", *argv], capture_output=True,
                              stdin=source, timeout=60, preexec_fn=limit_memory, env=ENV)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


def raw_control_characters(text: str) -> list[str]:
    """Control characters other than the newline ending a line: terminal escapes, CR, BEL..."""
    return [c for c in text if (ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160]


@pytest.mark.parametrize(("argv", "code", "fragment", "setup", "via"), list(_cases()))
def test_bad_input_matrix(request, argv, code, fragment, setup, via):
    paths = request.getfixturevalue(setup)
    folder = Path(paths["dir"])
    before = snapshot(folder)
    args = [part.format(**paths) for part in argv.split(" ")]

    exit_code, out, err = invoke(args, via, paths.get("stdin"))

    assert "Traceback" not in out + err
    assert "Warning" not in err
    assert not raw_control_characters(out + err), err
    if "internal error" not in fragment:  # only the planted bugs may report one
        assert "internal error" not in err
    assert exit_code == code, err
    after = snapshot(folder)
    assert not [p for p in after if Path(p).name.startswith(".convtool-")]
    if code == 0:
        assert err == ""
        created = set(after) - set(before)
        assert created == {str(Path(paths["out"]).relative_to(folder))}
        assert {k: v for k, v in after.items() if k in before} == before
        with Image.open(paths["input"]) as src, Image.open(paths["out"]) as result:
            assert result.size == src.size
            result.load()
        return
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("convtool: error: ")
    for part in fragment if isinstance(fragment, tuple) else (fragment,):
        assert part.format(**paths) in lines[0]
    assert after == before


def test_case_ids_are_unique():
    ids = [row[0] for row in CASES]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------
# What the matrix cannot say in one line.
# --------------------------------------------------------------------------


def test_outputs_get_normal_permissions_and_keep_existing_ones(work):
    """Outputs are not left private (mkstemp's 0600); a replaced file keeps its mode."""
    umask = os.umask(0o022)
    os.umask(umask)
    assert CliRunner().invoke(app, ["blur", "-s", "1", work["input"], work["out"]]).exit_code == 0
    assert stat.S_IMODE(os.stat(work["out"]).st_mode) == 0o666 & ~umask
    os.chmod(work["out"], 0o640)
    assert CliRunner().invoke(app, ["blur", work["input"], work["out"], "-s", "2"]).exit_code == 0
    assert stat.S_IMODE(os.stat(work["out"]).st_mode) == 0o640


def test_debug_shows_the_traceback_of_a_bug(bug_while_saving):
    """With --debug a bug propagates (CliRunner keeps it; a terminal shows its traceback)."""
    paths = bug_while_saving
    before = snapshot(Path(paths["dir"]))
    result = CliRunner().invoke(app, ["--debug", "blur", "-s", "1", paths["input"], paths["out"],
                                      "--overwrite"])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert str(result.exception) == "planted bug"
    assert snapshot(Path(paths["dir"])) == before  # and still nothing half-written


def test_kernel_text_file_too_large_is_refused_while_reading(work, monkeypatch):
    """A text kernel is refused at the first line that makes it too large, not at the end."""
    import convtool.kernels as kernels
    import convtool.kernels.files

    monkeypatch.setattr(convtool.kernels.files, "MAX_KERNEL_TAPS", 20)
    path = Path(work["dir"]) / "k.txt"
    path.write_text("1 1 1 1 1\n" * 5 + "oops\n" * 3)
    with pytest.raises(kernels.KernelError, match=r"line 5: the kernel is too large, 5 rows"):
        kernels.load_kernel(path)


# --------------------------------------------------------------------------
# Fuzz: random bytes and mutated PNG/JPEG files through the CLI.
# --------------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("CONVTOOL_FUZZ_EXAMPLES", "60"))
SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


def _seed_files() -> dict[str, bytes]:
    """Small valid files to mutate: PNG (RGB, RGBA, L, palette), JPEG and TIFF."""
    seeds = {}
    for name, mode in (("chelsea.png", "RGB"), ("horse.png", "RGBA"), ("camera.png", "L")):
        with Image.open(SAMPLES / name) as im:
            small = im.convert(mode).resize((24, 16))
        buf = io.BytesIO()
        small.save(buf, format="PNG")
        seeds[f"{mode}.png"] = buf.getvalue()
        if mode != "RGBA":
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=80)
            seeds[f"{mode}.jpg"] = buf.getvalue()
    buf = io.BytesIO()
    small.convert("P").save(buf, format="PNG")
    seeds["P.png"] = buf.getvalue()
    # TIFF is not in the list, but its reader warns where others raise.
    buf = io.BytesIO()
    small.save(buf, format="TIFF", compression="tiff_lzw")
    seeds["RGB.tif"] = buf.getvalue()
    return seeds


SEEDS = _seed_files()


@st.composite
def mutated_files(draw):
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "overwrite", "truncate", "delete", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos:pos + len(chunk)] = chunk
        elif kind == "truncate":
            del data[pos:]
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    return name[-4:], bytes(data)


random_files = st.tuples(
    st.sampled_from([".png", ".jpg", ".tif"]),
    st.one_of(st.binary(max_size=200),
              st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
              st.binary(max_size=200).map(lambda b: b"\xff\xd8\xff\xe0" + b)))

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _check_cli_on(suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"input{suffix}"
        source.write_bytes(data)
        out = Path(folder) / "out.png"
        result = CliRunner().invoke(app, ["blur", str(source), str(out), "--sigma", "1"])
        assert "Traceback" not in result.output
        assert "internal error" not in result.stderr, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code in (0, 1), result.stderr
        assert source.read_bytes() == data
        leftovers = sorted(p.name for p in Path(folder).iterdir())
        if result.exit_code == 0:
            assert result.stderr == ""
            assert leftovers == ["input" + suffix, "out.png"]
            with Image.open(out) as im:
                im.load()
        else:
            assert leftovers == ["input" + suffix]
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("convtool: error: "), result.stderr


def test_fuzz_seeds_are_valid():
    for name, data in SEEDS.items():
        _check_cli_on(name[-4:], data)


@FUZZ
@given(mutated_files())
def test_fuzz_mutated_images(case):
    _check_cli_on(*case)


@FUZZ
@given(random_files)
def test_fuzz_random_bytes(case):
    _check_cli_on(*case)


# --------------------------------------------------------------------------
# Round two (issue 14): what the matrix cannot say in one line.
# --------------------------------------------------------------------------

needs_root = pytest.mark.skipif(not IS_ROOT, reason="device nodes need root (CI runs as root)")


def _run(argv, *, stdin=None, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    return subprocess.run([sys.executable, "-m", "convtool", *argv], stdin=stdin,
                          timeout=timeout, preexec_fn=limit_memory, env=ENV, **kwargs)


def _one_error_line(stderr: bytes, fragment: str) -> None:
    err = stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert not raw_control_characters(err), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("convtool: error: "), err
    assert fragment in lines[0], err


def _no_temp_files(folder) -> bool:
    return not list(Path(folder).glob(".convtool-*"))


@needs_root
def test_output_character_device_is_written_not_replaced(work):
    node = Path(work["dir"]) / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    proc = _run(["blur", "-s", "1", work["input"], str(node), "--format", "png"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    st_after = node.lstat()
    assert stat.S_ISCHR(st_after.st_mode) and st_after.st_rdev == os.makedev(1, 3)
    assert _no_temp_files(work["dir"])


@needs_root
def test_output_block_device_is_refused(work):
    node = Path(work["dir"]) / "disk"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(240, 77))  # a number no driver owns
    proc = _run(["blur", "-s", "1", work["input"], str(node), "--format", "png"])
    assert proc.returncode == 1
    _one_error_line(proc.stderr, f"{node}: is a block device")
    assert stat.S_ISBLK(node.lstat().st_mode)
    assert _no_temp_files(work["dir"])


def test_output_fifo_is_written_not_replaced(work):
    import threading

    fifo = Path(work["dir"]) / "pipe.png"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = _run(["blur", "-s", "1", work["input"], str(fifo)])
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    with Image.open(io.BytesIO(received[0])) as im, Image.open(work["input"]) as src:
        assert im.size == src.size
    assert _no_temp_files(work["dir"])


def test_output_link_to_stdout_writes_the_pipe(work):
    """A '/dev/stdout'-style link: the bytes go down the pipe; the link stays."""
    link = Path(work["dir"]) / "stdout.png"
    os.symlink("/proc/self/fd/1", link)
    proc = _run(["blur", "-s", "1", work["input"], str(link)])
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    with Image.open(io.BytesIO(proc.stdout)) as im:
        assert im.size == (16, 12)
    assert _no_temp_files(work["dir"])


def test_output_socket_is_refused(work):
    import socket

    path = Path(work["dir"]) / "sock.png"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        proc = _run(["blur", "-s", "1", work["input"], str(path)])
    finally:
        sock.close()
    assert proc.returncode == 1
    _one_error_line(proc.stderr, f"{path}: is a socket")
    assert stat.S_ISSOCK(path.lstat().st_mode)
    assert _no_temp_files(work["dir"])


def _write_pages(path, count: int) -> float:
    import time

    from convtool import imaging

    pages = [imaging.Image(np.full((1, 1, 1), (i % 251) / 255, np.float32), "L")
             for i in range(count)]
    image = pages[0]
    image.extra_frames = tuple(pages[1:])
    start = time.process_time()
    imaging.write_image(image, path)
    return time.process_time() - start


def test_multipage_tiff_output_is_linear_in_the_page_count(tmp_path):
    """Pillow's appending writer walks every page written so far for each new one.

    Measured on one machine in one run: linear writing takes ~8x as long for 8x
    the pages; a quadratic walk takes ~64x. CPU time, the least of two runs, and a
    bound halfway between, so that a loaded machine does not fail it.
    """
    small = min(_write_pages(tmp_path / "small.tif", 500) for _ in range(2))
    large = min(_write_pages(tmp_path / "large.tif", 4000) for _ in range(2))
    assert large < 36 * small, (small, large)
    with Image.open(tmp_path / "large.tif") as im:
        assert im.n_frames == 4000
        for index in (0, 1, 2000, 3999):
            im.seek(index)
            assert im.getpixel((0, 0)) == index % 251


def _tree_with_loops(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    _small_rgb().save(root / "a.png")
    _small_rgb().save(root / "sub" / "b.png")
    for name in ("up1", "up2", "up3"):  # each a way back up: 3^depth paths for glob
        os.symlink("..", root / "sub" / name)
    os.symlink(".", root / "self")


def test_recursive_glob_never_enters_a_folder_twice(tmp_path):
    _tree_with_loops(tmp_path / "in")
    out = tmp_path / "out"
    proc = _run(["blur", "-s", "1", str(tmp_path / "in" / "**" / "*.png"), "--recursive",
                 "--out-dir", str(out), "-q"], timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.rglob("*.png")) == ["a.png", "b.png"]


def test_recursive_folder_walk_never_enters_a_folder_twice(tmp_path):
    _tree_with_loops(tmp_path / "in")
    out = tmp_path / "out"
    proc = _run(["blur", "-s", "1", str(tmp_path / "in"), "--recursive", "--out-dir", str(out), "-q"])
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "a.png", "sub/b.png"]


def _files_under(root) -> list[str]:
    """Every file under ``root``, found without recursion (pathlib's and 3.11's os.walk recurse)."""
    found, folders = [], [str(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                (folders if entry.is_dir(follow_symlinks=False) else found).append(entry.path)
    return found


def _remove_deep(root) -> None:
    """Remove a tree without recursion: shutil.rmtree (and so pytest's clean-up of old
    temporary folders) recurses once per level and fails on a 1,200-level tree."""
    folders, files, pending = [], [], [str(root)]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                (pending if is_dir else files).append(entry.path)
    for path in files:
        os.unlink(path)
    for folder in reversed(folders):
        os.rmdir(folder)


@pytest.fixture
def deep_tmp(tmp_path):
    yield tmp_path
    for name in ("in", "out"):
        if (tmp_path / name).exists():
            _remove_deep(tmp_path / name)


@pytest.mark.parametrize("how", ["folder", "glob"])
def test_recursive_walk_of_a_1200_level_tree(deep_tmp, how):
    tmp_path = deep_tmp
    root = tmp_path / "in"
    deep = str(root)
    os.mkdir(deep)
    for _ in range(1200):
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    _small_rgb().save(os.path.join(deep, "x.png"))
    source = str(root) if how == "folder" else str(root / "**" / "*.png")
    proc = _run(["blur", "-s", "1", source, "--recursive", "--out-dir", str(tmp_path / "out"), "-q"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [os.path.basename(p) for p in _files_under(tmp_path / "out")] == ["x.png"]


def _closing(fd: int):
    def preexec():
        limit_memory()
        os.close(fd)  # convtool starts with this descriptor closed, as after '>&-'
    return preexec


def test_stdout_closed(work):
    proc = subprocess.run([sys.executable, "-m", "convtool", "blur", "-s", "1", work["input"], "-",
                           "--format", "png"], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          timeout=60, preexec_fn=_closing(1), env=ENV)
    assert proc.returncode == 1
    _one_error_line(proc.stderr, "<stdout>: standard output is closed")


def test_stdout_not_writable_ebadf(work):
    with open(os.devnull, "rb") as read_only:
        proc = _run(["blur", "-s", "1", work["input"], "-", "--format", "png"], stdout=read_only,
                    stderr=subprocess.PIPE, capture_output=False)
    assert proc.returncode == 1
    _one_error_line(proc.stderr, "<stdout>: cannot write (Bad file descriptor)")


def test_stdin_closed(work):
    proc = subprocess.run([sys.executable, "-m", "convtool", "blur", "-s", "1", "-", work["out"]],
                          capture_output=True, timeout=60, preexec_fn=_closing(0), env=ENV)
    assert proc.returncode == 1
    _one_error_line(proc.stderr, "<stdin>: standard input is closed")
    assert not os.path.exists(work["out"])


def test_a_reader_that_leaves_mid_image_is_a_failure(tmp_path):
    source = tmp_path / "noise.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (1000, 1200, 3), dtype=np.uint8)).save(source)
    convtool = subprocess.Popen([sys.executable, "-m", "convtool", "blur", "-s", "1", str(source), "-",
                                 "--format", "png"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, preexec_fn=limit_memory)
    head = subprocess.run(["head", "-c", "100000"], stdin=convtool.stdout, capture_output=True,
                          timeout=60)
    convtool.stdout.close()
    err = convtool.stderr.read()
    convtool.stderr.close()
    convtool.wait(60)
    assert len(head.stdout) == 100000
    assert convtool.returncode == 1
    _one_error_line(err, "<stdout>: the reader closed the pipe after")


def test_verbose_report_escapes_control_characters(work):
    kernel = Path(work["dir"]) / "k\x1b[2J\rforged.txt"
    kernel.write_text("1 2 1\n")
    proc = _run(["convolve", work["input"], work["out"], "--kernel", str(kernel), "-v"])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    assert not raw_control_characters(err), err
    assert "k\\x1b[2J\\rforged.txt" in err


def test_batch_progress_escapes_control_characters(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _small_rgb().save(folder / "ok\x1b[31m.png")
    (folder / "bad\nconvtool: 0 failed.png").write_bytes(b"not an image")
    proc = _run(["blur", "-s", "1", str(folder), "--out-dir", str(tmp_path / "out")])
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert not raw_control_characters(err), err
    assert "ok\\x1b[31m.png" in err and "bad\\nconvtool: 0 failed.png" in err
    assert not any(line.startswith("convtool: 0 failed") for line in err.splitlines())


def test_library_warnings_stay_off_stderr():
    """tifffile's log lines and Pillow's UserWarnings never add lines to the one-line rule."""
    code = ("import importlib, logging, warnings\n"
            "a = importlib.import_module('convtool.cli.app')\n"
            "a._quiet_libraries()\n"
            "logging.getLogger('tifffile').warning('damaged tag')\n"
            "warnings.warn_explicit('repaired', UserWarning, 'x.py', 1, module='PIL.TiffImagePlugin')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
