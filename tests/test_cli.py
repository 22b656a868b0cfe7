"""The command line through typer's CliRunner: results, messages and exit codes."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image
from typer.testing import CliRunner

from convtool.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im).astype(np.float64)


def image_mode(path):
    with Image.open(path) as im:
        return im.mode


def image_format(path):
    with Image.open(path) as im:
        return im.format


def test_blur_matches_scipy_gaussian_filter(samples, tmp_path):
    out = tmp_path / "blurred.png"
    result = run("blur", samples / "chelsea.png", out, "--sigma", "2")
    assert result.exit_code == 0, result.output
    src = pixels(samples / "chelsea.png")
    expected = ndi.gaussian_filter(src, sigma=(2, 2, 0), mode="reflect")
    got = pixels(out)
    assert got.shape == src.shape
    # Computed in float32 and rounded to nearest: never off by more than one level.
    assert np.abs(got - np.rint(expected)).max() <= 1
    assert np.mean(got != np.rint(expected)) < 0.01
    assert image_mode(out) == "RGB"


@pytest.mark.parametrize("name", ["camera.png", "horse.png", "coffee.png"])
def test_mean_keeps_mode_and_matches_scipy(samples, tmp_path, name):
    out = tmp_path / "mean.png"
    result = run("mean", samples / name, out, "--size", "5", "--mode", "nearest")
    assert result.exit_code == 0, result.output
    assert image_mode(out) == image_mode(samples / name)
    src = pixels(samples / name)
    size = (5, 5) if src.ndim == 2 else (5, 5, 1)
    expected = np.rint(ndi.uniform_filter(src, size=size, mode="nearest"))
    assert np.abs(pixels(out) - expected).max() <= 1


def test_alpha_is_kept(samples, tmp_path):
    out = tmp_path / "horse.png"
    assert run("blur", samples / "horse.png", out, "--sigma", "1").exit_code == 0
    assert image_mode(out) == "RGBA"


def test_convolve_with_kernel_file_and_methods_agree(samples, tmp_path):
    kernel = tmp_path / "k.txt"
    kernel.write_text("1 2 1\n0 0 0\n-1, -2, -1\n")
    outs = {}
    for method in ("direct", "fft"):
        outs[method] = tmp_path / f"{method}.png"
        result = run("convolve", samples / "camera.png", outs[method], "--kernel", kernel,
                     "--method", method, "--mode", "wrap")
        assert result.exit_code == 0, result.output
    src = pixels(samples / "camera.png")
    k = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    expected = np.rint(np.clip(ndi.convolve(src / 255, k, mode="wrap"), 0, 1) * 255)
    for path in outs.values():
        assert np.abs(pixels(path) - expected).max() <= 1


def test_convolve_normalize(samples, tmp_path):
    kernel = tmp_path / "k.npy"
    np.save(kernel, np.ones((3, 3)))
    out = tmp_path / "out.png"
    result = run("convolve", samples / "camera.png", out, "-k", kernel, "--normalize", "sum")
    assert result.exit_code == 0
    expected = np.rint(ndi.uniform_filter(pixels(samples / "camera.png"), 3, mode="reflect"))
    assert np.abs(pixels(out) - expected).max() <= 1


def test_verbose_reports_kernel_and_method(samples, tmp_path):
    result = run("blur", samples / "camera.png", tmp_path / "o.png", "--sigma", "2", "-v")
    assert result.exit_code == 0
    assert "17x17 kernel" in result.stderr
    assert "method direct" in result.stderr or "method fft" in result.stderr


def test_jpeg_output_from_extension(samples, tmp_path):
    out = tmp_path / "out.jpg"
    assert run("blur", "-s", "1", samples / "coffee.png", out).exit_code == 0
    assert image_format(out) == "JPEG"


@pytest.mark.parametrize("args, code, message", [
    (["blur", "-s", "1", "{missing}", "{out}"], 1, "no such file"),
    (["blur", "-s", "1", "{text}", "{out}"], 1, "not an image file"),
    (["blur", "-s", "1", "{folder}", "{out}"], 2, "is a folder"),
    (["blur", "{camera}", "{out}", "--sigma", "-2"], 2, "sigma must be a positive"),
    (["blur", "{camera}", "{out}", "--sigma", "nan"], 2, "sigma must be a positive"),
    (["blur", "{camera}", "{out}", "--sigma", "abc"], 2, "Invalid value for '--sigma'"),
    (["blur", "-s1", "{camera}", "{out}", "--mode", "symmetric"], 2, "unknown mode 'symmetric'"),
    (["blur", "-s", "1", "{camera}", "{out}", "--method", "gpu"], 2, "unknown method 'gpu'"),
    (["blur", "-s", "1", "{camera}", "{tmp}/out.xyz"], 2, "cannot tell which image type to write"),
    (["blur", "-s", "1", "{camera}", "{tmp}/no/such/dir/out.png"], 1, "does not exist"),
    (["mean", "{camera}", "{out}", "--size", "0"], 2, "size must be a whole number >= 1"),
    (["convolve", "{camera}", "{out}", "--kernel", "{ragged}"], 2, "line 2: 2 values"),
    (["convolve", "{camera}", "{out}", "--kernel", "{words}"], 2, "line 1: 'one' is not a number"),
    (["convolve", "{camera}", "{out}", "--kernel", "{empty}"], 2, "no numbers found"),
    (["convolve", "{camera}", "{out}", "--kernel", "{nan}"], 2, "not a finite number"),
    (["convolve", "{camera}", "{out}", "--kernel", "{missing}"], 2, "no such file"),
    (["convolve", "{camera}", "{out}", "--kernel", "{zero}", "--normalize", "sum"], 2, "sum to 0"),
    (["convolve", "{camera}", "{out}"], 2, "Missing option '--kernel'"),
    (["blur", "-s", "1", "{camera}"], 2, "expected INPUT and OUTPUT"),
    (["blur", "-s", "1", "{camera}", "{out}", "--no-such-option"], 2, "No such option"),
])
def test_errors_are_one_line_with_exit_code(samples, tmp_path, args, code, message):
    files = {
        "missing": tmp_path / "missing.png",
        "text": tmp_path / "notes.png",
        "folder": tmp_path,
        "camera": samples / "camera.png",
        "out": tmp_path / "out.png",
        "tmp": tmp_path,
        "ragged": tmp_path / "ragged.txt",
        "words": tmp_path / "words.txt",
        "empty": tmp_path / "empty.txt",
        "nan": tmp_path / "nan.txt",
        "zero": tmp_path / "zero.txt",
    }
    files["text"].write_text("this is not a picture")
    files["ragged"].write_text("1 2 3\n4 5\n")
    files["words"].write_text("one two\n")
    files["empty"].write_text("\n# nothing here\n")
    files["nan"].write_text("1 nan 1\n")
    files["zero"].write_text("1 -1\n")
    result = run(*[a.format(**files) for a in args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convtool: error:")
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert not files["out"].exists()
    assert list(tmp_path.glob(".convtool-*")) == []


def test_every_command_and_option_has_help():
    import typer.main

    from convtool.cli import app as the_app

    group = typer.main.get_command(the_app)
    assert group.commands
    for name, command in group.commands.items():
        assert command.help, name
        for param in command.params:
            if param.name == "help":
                continue
            assert getattr(param, "help", None), f"{name} {param.name}"


def test_help_lists_every_mode():
    from convtool.engine import MODES

    result = run("blur", "--help")
    assert result.exit_code == 0
    for mode in MODES:
        assert mode in result.output


def test_python_dash_m_and_version():
    out = subprocess.run([sys.executable, "-m", "convtool", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("convtool ")


def test_cval_is_raw_for_float_images_and_unit_scale_for_integer_ones(samples, tmp_path):
    src = tmp_path / "f.tif"
    Image.fromarray(np.full((6, 7), 10.0, dtype=np.float32), mode="F").save(src)
    out = tmp_path / "out.tif"
    result = run("mean", src, out, "--size", "3", "--mode", "constant", "--cval", "100")
    assert result.exit_code == 0, result.output
    got = pixels(out)
    assert got[3, 3] == pytest.approx(10.0)
    assert got[0, 0] == pytest.approx((4 * 10 + 5 * 100) / 9, rel=1e-6)
    result = run("mean", samples / "camera.png", tmp_path / "o.png", "--mode", "constant",
                 "--cval", "100")
    assert result.exit_code == 2
    assert "not between 0 and 1" in result.stderr


def test_blur_sigma_zero_leaves_the_image_unchanged(tmp_path):
    source = tmp_path / "in.png"
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(source)
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["blur", str(source), str(out), "--sigma", "0"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(out)), pixels)
