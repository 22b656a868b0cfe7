"""Image fidelity, pipes and safe writes through the command line."""

import io
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convtool import imaging
from convtool.cli import app
from convtool.kernels import gaussian_kernel, mean_kernel
from convtool.pipeline import FilterJob, process_file

runner = CliRunner()


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def array(path_or_bytes):
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(source) as im:
        return np.asarray(im)


def mode_of(path):
    with Image.open(path) as im:
        return im.mode


def listing(folder):
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.is_file())


def console_script():
    """The installed ``convtool`` script next to this Python, else ``python -m convtool``."""
    here = pathlib.Path(sys.executable).parent
    found = shutil.which("convtool", path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    return [found] if found else [sys.executable, "-m", "convtool"]


def one_error_line(result, code, message):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convtool: error:")
    assert message in lines[0]


@pytest.fixture
def red_square(tmp_path):
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[12:28, 12:28] = (255, 0, 0, 255)
    path = tmp_path / "square.png"
    Image.frombytes("RGBA", (40, 40), pixels.tobytes()).save(path)
    return path


def test_stdin_stdout_pipeline_through_console_script(samples, tmp_path):
    """cat a.png | convtool blur - - --sigma 3 --format png | convtool mean - out.png --size 5"""
    script = console_script()
    data = (samples / "astronaut.png").read_bytes()
    first = subprocess.run([*script, "blur", "-", "-", "--sigma", "3", "--format", "png", "-v"],
                           input=data, capture_output=True, check=True)
    assert first.stdout.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"convtool" in first.stderr  # the report goes to stderr, never into the image
    out = tmp_path / "out.png"
    subprocess.run([*script, "mean", "-", str(out), "--size", "5"], input=first.stdout,
                   capture_output=True, check=True)
    # The same two steps through files give the same pixels.
    blurred, expected = tmp_path / "b.png", tmp_path / "e.png"
    process_file(FilterJob(gaussian_kernel(3.0)), samples / "astronaut.png", blurred)
    process_file(FilterJob(mean_kernel(5)), blurred, expected)
    np.testing.assert_array_equal(array(out), array(expected))
    np.testing.assert_array_equal(array(first.stdout), array(blurred))


def test_stdout_error_writes_nothing_to_stdout(samples):
    result = subprocess.run([*console_script(), "blur", "-s", "1", "-", "-", "--format", "jpeg"],
                            input=(samples / "horse.png").read_bytes(), capture_output=True)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().startswith("convtool: error:")
    assert "JPEG cannot store an alpha channel" in result.stderr.decode()


def test_stdin_and_stdout_with_clirunner(samples):
    data = (samples / "camera.png").read_bytes()
    result = run("mean", "-", "-", "--size", "3", "--format", "tiff", input=data)
    assert result.exit_code == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout_bytes)) as im:
        assert (im.format, im.mode) == ("TIFF", "L")


def test_stdout_needs_format(samples, tmp_path):
    one_error_line(run("blur", "-s", "1", samples / "camera.png", "-"), 2, "needs --format")


def test_premultiplied_default_keeps_edges_pure_red(red_square, tmp_path):
    out = tmp_path / "out.png"
    assert run("blur", red_square, out, "--sigma", "3").exit_code == 0
    rgba = array(out)
    visible = rgba[:, :, 3] > 0
    assert visible.sum() > 16 * 16
    assert (rgba[visible, 0] == 255).all() and (rgba[visible, 1:3] == 0).all()


def test_separate_alpha_darkens_edges(red_square, tmp_path):
    out = tmp_path / "out.png"
    assert run("blur", red_square, out, "--sigma", "3", "--alpha", "separate").exit_code == 0
    rgba = array(out)
    visible = rgba[:, :, 3] > 0
    assert (rgba[visible, 0] < 128).any()


def test_ignore_alpha_leaves_alpha(red_square, tmp_path):
    out = tmp_path / "out.png"
    assert run("blur", red_square, out, "--sigma", "3", "--alpha", "ignore").exit_code == 0
    np.testing.assert_array_equal(array(out)[:, :, 3], array(red_square)[:, :, 3])


def test_linear_light_option(tmp_path):
    stripes = np.zeros((8, 8), np.uint8)
    stripes[:, ::2] = 255
    source = tmp_path / "stripes.png"
    Image.frombytes("L", (8, 8), stripes.tobytes()).save(source)
    plain, linear = tmp_path / "plain.png", tmp_path / "linear.png"
    assert run("mean", source, plain, "--size", "2", "--mode", "wrap").exit_code == 0
    assert run("mean", source, linear, "--size", "2", "--mode", "wrap", "--linear").exit_code == 0
    assert (array(plain) == 128).all()
    assert (array(linear) == 188).all()


def test_sixteen_bit_stays_sixteen_bit(tmp_path):
    data = (np.arange(30 * 50, dtype=np.uint32).reshape(30, 50) * 40).astype(np.uint16)
    source = tmp_path / "g16.png"
    Image.frombytes("I;16", (50, 30), data.astype("<u2").tobytes()).save(source)
    for ext in ("png", "tif"):
        out = tmp_path / f"out.{ext}"
        assert run("blur", source, out, "--sigma", "1").exit_code == 0
        assert mode_of(out) == "I;16"
        assert array(out).max() > 255


def test_keep_palette(tmp_path, samples):
    source = tmp_path / "p.gif"
    with Image.open(samples / "chelsea.png") as im:
        im.convert("RGB").quantize(colors=64).save(source)
    plain, kept = tmp_path / "rgb.png", tmp_path / "p.png"
    assert run("blur", "-s", "1", source, plain).exit_code == 0
    assert run("blur", "-s", "1", source, kept, "--keep-palette").exit_code == 0
    assert (mode_of(plain), mode_of(kept)) == ("RGB", "P")


def test_compress_level_and_quality(samples, tmp_path):
    fast, small = tmp_path / "fast.png", tmp_path / "small.png"
    assert run("mean", samples / "camera.png", fast, "--compress-level", "0").exit_code == 0
    assert run("mean", samples / "camera.png", small, "--compress-level", "9").exit_code == 0
    assert fast.stat().st_size > small.stat().st_size
    np.testing.assert_array_equal(array(fast), array(small))
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpg"
    assert run("mean", samples / "coffee.png", low, "--quality", "10").exit_code == 0
    assert run("mean", samples / "coffee.png", high, "--quality", "95").exit_code == 0
    assert high.stat().st_size > low.stat().st_size


def test_same_input_and_output_needs_in_place(samples, tmp_path):
    path = tmp_path / "photo.png"
    original = (samples / "camera.png").read_bytes()
    path.write_bytes(original)
    one_error_line(run("mean", path, path, "--size", "3"), 2, "--in-place")
    assert path.read_bytes() == original
    assert run("mean", path, path, "--size", "3", "--in-place").exit_code == 0
    assert not np.array_equal(array(path), array(samples / "camera.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]


def test_no_clobber(samples, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    one_error_line(run("blur", "-s", "1", samples / "camera.png", out, "--no-clobber"), 1,
                   "already exists; not replaced (--no-clobber)")
    assert out.read_bytes() == b"keep me"
    # A file convtool did not write is replaced only with --overwrite (issue 13).
    assert run("blur", "-s", "1", samples / "camera.png", out).exit_code == 2
    assert run("blur", "-s", "1", samples / "camera.png", out, "--overwrite").exit_code == 0
    assert mode_of(out) == "L"


def test_failed_write_leaves_folder_as_it_was(samples, tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")
    before = listing(tmp_path)

    def failing_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG half an image")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    one_error_line(run("blur", "-s", "1", samples / "camera.png", out, "--overwrite"), 1,
                   "cannot write")
    assert listing(tmp_path) == before


def test_unwritable_target_folder(samples, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    before = listing(tmp_path)
    one_error_line(run("blur", "-s", "1", samples / "camera.png", tmp_path / "file" / "out.png"), 1,
                   "cannot write in")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("args, code, message", [
    (["--quality", "80"], 2, "JPEG-compressed TIFF, not PNG"),
    (["--quality", "101"], 2, "quality must be a whole number from 1 to 100"),
    (["--compress-level", "12"], 2, "compress-level must be a whole number from 0 to 9"),
    (["--alpha", "dark"], 2, "unknown alpha mode 'dark'"),
    (["--format", "nope"], 2, "unknown output format 'nope'"),
    (["--max-pixels", "1000"], 1, "more than the limit of 1,000"),
])
def test_option_errors(samples, tmp_path, args, code, message):
    out = tmp_path / "out.png"
    one_error_line(run("blur", "-s", "1", samples / "camera.png", out, *args), code, message)
    assert list(tmp_path.iterdir()) == []


def test_max_pixels_raises_the_limit(samples, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    out = tmp_path / "out.png"
    one_error_line(run("blur", "-s", "1", samples / "camera.png", out), 1, "--max-pixels 262144")
    assert run("blur", "-s1", samples / "camera.png", out, "--max-pixels", "262144").exit_code == 0


def test_animation_to_jpeg_is_refused(tmp_path):
    frames = [Image.new("RGB", (8, 8), (i * 80, 0, 0)) for i in range(3)]
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=50)
    one_error_line(run("blur", "-s1", source, tmp_path / "out.jpg"), 2,
                   "3 frames but JPEG holds one")
    assert run("blur", "-s", "1", source, tmp_path / "out.webp").exit_code == 0
    with Image.open(tmp_path / "out.webp") as im:
        assert im.n_frames == 3


def test_float_tiff_through_cli(tmp_path):
    data = np.linspace(-3, 5, 20 * 20, dtype=np.float32).reshape(20, 20)
    source = tmp_path / "f.tif"
    Image.frombytes("F", (20, 20), data.tobytes()).save(source)
    out = tmp_path / "out.tif"
    assert run("mean", source, out, "--size", "3").exit_code == 0
    got = array(out)
    assert got.dtype == np.float32 and got.min() < -2.5 and got.max() > 4.5
    one_error_line(run("mean", source, tmp_path / "x.tif", "--linear"), 2, "--linear")


def test_help_groups_image_and_output_options():
    result = run("blur", "--help")
    assert result.exit_code == 0
    for option in ("--alpha", "--linear", "--format", "--quality", "--compress-level",
                   "--keep-palette", "--no-clobber", "--max-pixels"):
        assert option in result.output
    assert imaging.DEFAULT_COMPRESS_LEVEL == 3
