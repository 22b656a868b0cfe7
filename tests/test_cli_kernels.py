"""The command line for kernels: --kernel SPEC, the Kernel options, sharpen, edges, kernel show."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image
from typer.testing import CliRunner

from convtool.cli import app
from convtool.kernels import NAMED_KERNELS

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im).astype(np.float64)


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def close(got, expected, levels=1):
    """8-bit output of a float computation: rounded to nearest, so off by at most a level."""
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= levels


def eight_bit(x):
    return np.rint(np.clip(x, 0, 1) * 255)


@pytest.fixture
def camera(samples):
    return pixels(samples / "camera.png") / 255


# --------------------------------------------------------------------------
# --kernel SPEC on convolve
# --------------------------------------------------------------------------


def test_convolve_takes_every_spec_form(samples, tmp_path, camera, monkeypatch):
    text = tmp_path / "k.txt"
    text.write_text("1 2 1\n2 4 2\n1 2 1\n")
    expected = eight_bit(ndi.gaussian_filter(camera, 1.5))
    ok("convolve", samples / "camera.png", tmp_path / "g.png", "--kernel", "gaussian:1.5")
    close(pixels(tmp_path / "g.png"), expected)
    binomial = eight_bit(ndi.convolve(camera, np.outer([1, 2, 1], [1, 2, 1]) / 16))
    for i, spec in enumerate(["1 2 1; 2 4 2; 1 2 1", f"@{text}", str(text)]):
        out = tmp_path / f"b{i}.png"
        ok("convolve", samples / "camera.png", out, "-k", spec, "--normalize", "auto")
        close(pixels(out), binomial)


def test_mean_spec_is_width_by_height(samples, tmp_path, camera):
    out = tmp_path / "m.png"
    ok("convolve", samples / "camera.png", out, "-k", "mean:7x3")
    close(pixels(out), eight_bit(ndi.uniform_filter(camera, size=(3, 7))))


def test_normalize_default_is_none_and_auto_leaves_zero_sum_alone(samples, tmp_path, camera):
    ok("convolve", samples / "camera.png", tmp_path / "n.png", "-k", "0 0 0; 0 2 0; 0 0 0")
    close(pixels(tmp_path / "n.png"), eight_bit(2 * camera))  # used as given
    ok("convolve", samples / "camera.png", tmp_path / "a.png", "-k", "0 0 0; 0 2 0; 0 0 0",
       "--normalize", "auto")
    close(pixels(tmp_path / "a.png"), eight_bit(camera))
    k = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    ok("convolve", samples / "camera.png", tmp_path / "l.png", "-k", "laplacian",
       "--normalize", "auto", "--bias", "0.5")
    close(pixels(tmp_path / "l.png"), eight_bit(ndi.convolve(camera, k) + 0.5))


def test_scale_bias_and_abs(samples, tmp_path, camera):
    sobel = ndi.sobel(camera, axis=1)
    ok("convolve", samples / "camera.png", tmp_path / "s.png", "-k", "sobel-x",
       "--scale", "0.125", "--bias", "0.5")
    close(pixels(tmp_path / "s.png"), eight_bit(sobel / 8 + 0.5))
    ok("convolve", samples / "camera.png", tmp_path / "a.png", "-k", "sobel-x",
       "--scale", "0.25", "--abs")
    close(pixels(tmp_path / "a.png"), eight_bit(np.abs(sobel) / 4))


def test_correlate_mirrors_an_asymmetric_kernel(tmp_path):
    dot = np.zeros((9, 9), dtype=np.uint8)
    dot[4, 4] = 255
    src = tmp_path / "dot.png"
    Image.fromarray(dot).save(src)
    kernel = "0 0 0; 0 0.5 0; 0 0.25 1"  # asymmetric
    ok("convolve", src, tmp_path / "conv.png", "-k", kernel)
    ok("convolve", src, tmp_path / "corr.png", "-k", kernel, "--correlate")
    conv, corr = pixels(tmp_path / "conv.png"), pixels(tmp_path / "corr.png")
    assert conv[5, 5] == 255 and corr[3, 3] == 255  # the kernel's 1 lands on opposite sides
    np.testing.assert_array_equal(conv, corr[::-1, ::-1])
    assert not np.array_equal(conv, corr)


@pytest.mark.parametrize("kernel", ["1 1", "1 2; 3 4", "1 0 -1", "1 2 3 4; 0 1 0 2"])
def test_correlate_matches_scipy_for_odd_and_even_sizes(samples, tmp_path, camera, kernel):
    w = np.array([[float(v) for v in row.split()] for row in kernel.split(";")])
    out = tmp_path / "c.png"
    ok("convolve", samples / "camera.png", out, "-k", kernel, "--correlate",
       "--scale", str(1 / np.abs(w).sum()), "--bias", "0.5", "--mode", "nearest")
    expected = ndi.correlate(camera, w / np.abs(w).sum(), mode="nearest") + 0.5
    close(pixels(out), eight_bit(expected))


def test_mat_file_offset_through_the_cli(samples, tmp_path, camera):
    mat = tmp_path / "shift.mat"
    mat.write_text("1 1 2 64\n2\n")
    ok("convolve", samples / "camera.png", tmp_path / "o.png", "-k", mat)
    close(pixels(tmp_path / "o.png"), eight_bit(camera + 64 / 255))


def test_channels_subset(samples, tmp_path):
    src = pixels(samples / "horse.png")  # RGBA
    ok("blur", samples / "horse.png", tmp_path / "a.png", "--sigma", "2", "--channels", "a")
    out = pixels(tmp_path / "a.png")
    np.testing.assert_array_equal(out[..., :3], src[..., :3])
    close(out[..., 3], eight_bit(ndi.gaussian_filter(src[..., 3] / 255, 2)))
    ok("blur", samples / "horse.png", tmp_path / "rgb.png", "--sigma", "2", "--channels", "rgb")
    out = pixels(tmp_path / "rgb.png")
    np.testing.assert_array_equal(out[..., 3], src[..., 3])
    assert not np.array_equal(out[..., :3], src[..., :3])


def test_blur_radius(samples, tmp_path, camera):
    ok("blur", samples / "camera.png", tmp_path / "r.png", "--sigma", "3", "--radius", "4")
    close(pixels(tmp_path / "r.png"), eight_bit(ndi.gaussian_filter(camera, 3, radius=4)))


# --------------------------------------------------------------------------
# sharpen and edges
# --------------------------------------------------------------------------


def test_sharpen_is_unsharp_masking(samples, tmp_path):
    src = pixels(samples / "astronaut.png") / 255
    ok("sharpen", samples / "astronaut.png", tmp_path / "s.png", "--sigma", "2",
       "--amount", "0.8")
    blurred = ndi.gaussian_filter(src, (2, 2, 0))
    close(pixels(tmp_path / "s.png"), eight_bit(src + 0.8 * (src - blurred)))


def test_sharpen_threshold(samples, tmp_path):
    src = pixels(samples / "camera.png")
    ok("sharpen", samples / "camera.png", tmp_path / "all.png", "--threshold", "2")
    np.testing.assert_array_equal(pixels(tmp_path / "all.png"), src)  # nothing is that far
    ok("sharpen", samples / "camera.png", tmp_path / "t.png", "--threshold", "0.05")
    ok("sharpen", samples / "camera.png", tmp_path / "n.png")
    t, n = pixels(tmp_path / "t.png"), pixels(tmp_path / "n.png")
    unchanged = t == src
    assert unchanged.any() and (~unchanged).any()
    np.testing.assert_array_equal(t[~unchanged], n[~unchanged])


def _per_channel(src, op):
    if src.ndim == 2:
        return op(src)
    return np.stack([op(src[..., c]) for c in range(src.shape[2])], axis=-1)


@pytest.mark.parametrize("name", ["camera.png", "chelsea.png"])
def test_edges_sobel_is_the_hypot_of_scipy_sobel(samples, tmp_path, name):
    src = pixels(samples / name) / 255
    mag = _per_channel(src, lambda a: np.hypot(ndi.sobel(a, axis=0), ndi.sobel(a, axis=1)))
    ok("edges", samples / name, tmp_path / "e.png")
    close(pixels(tmp_path / "e.png"), eight_bit(mag / mag.max()))
    ok("edges", samples / name, tmp_path / "f.png", "--no-stretch")
    close(pixels(tmp_path / "f.png"), eight_bit(mag / (4 * math.sqrt(2))))


def test_edges_prewitt_laplacian_and_log(samples, tmp_path, camera):
    cases = {
        "prewitt": np.hypot(ndi.prewitt(camera, axis=0), ndi.prewitt(camera, axis=1)),
        "laplacian": np.abs(ndi.laplace(camera)),
        "log": np.abs(ndi.gaussian_laplace(camera, 2.0)),
    }
    for op, mag in cases.items():
        out = tmp_path / f"{op}.png"
        ok("edges", samples / "camera.png", out, "--operator", op, "--sigma", "2")
        close(pixels(out), eight_bit(mag / mag.max()), levels=1 if op != "log" else 2)
    ok("edges", samples / "camera.png", tmp_path / "s.png", "--operator", "scharr")
    assert pixels(tmp_path / "s.png").max() == 255


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["convolve", "{camera}", "{out}", "-k", "gausian:2"], "did you mean 'gaussian'?"),
    (["convolve", "{camera}", "{out}", "-k", "gaussian:-1"], "sigma must be a finite number >= 0"),
    (["convolve", "{camera}", "{out}", "-k", "gaussian:nan"], "sigma must be a finite number >= 0"),
    (["convolve", "{camera}", "{out}", "-k", "mean:0"], "size must be a whole number >= 1"),
    (["convolve", "{camera}", "{out}", "-k", "mean:99999"], "too large"),
    (["convolve", "{camera}", "{out}", "-k", "1 2; 3"], "row 2: 1 values"),
    (["convolve", "{camera}", "{out}", "-k", "sobel-x:2"], "takes no parameters"),
    (["convolve", "{camera}", "{out}", "-k", "gaussian:sigm=2"], "unknown parameter 'sigm'"),
    (["convolve", "{camera}", "{out}", "-k", "sobel-x", "--normalize", "sum"],
     "cannot normalise a kernel whose values sum to 0"),
    (["convolve", "{camera}", "{out}", "-k", "sobel-x", "--normalize", "max"],
     "unknown normalize 'max'"),
    (["convolve", "{camera}", "{out}", "-k", "sobel-x", "--scale", "nan"],
     "scale must be a finite number"),
    (["convolve", "{camera}", "{out}", "-k", "gaussian:1", "--bias", "inf"],
     "--bias must be a finite number"),
    (["blur", "{camera}", "{out}", "-s", "1", "--channels", "a"], "mode L has no 'a' channel"),
    (["blur", "{camera}", "{out}", "-s", "1", "--channels", "xyz"], "unknown channel 'x'"),
    (["blur", "{camera}", "{out}", "-s", "1", "--radius", "-1"],
     "--radius must be a whole number >= 1"),
    (["sharpen", "{camera}", "{out}", "--amount", "-1"], "amount must be a finite number >= 0"),
    (["sharpen", "{camera}", "{out}", "--threshold", "-1"], "--threshold must be a number >= 0"),
    (["edges", "{camera}", "{out}", "--operator", "canny"], "unknown --operator 'canny'"),
    (["edges", "{camera}", "{out}", "--operator", "log", "--sigma", "0"], "sigma must be"),
    (["kernel", "show", "1 2; 3"], "row 2: 1 values"),
    (["kernel", "show", "blurr"], "unknown kernel 'blurr'"),
    (["kernel", "show", "sobel-x", "--size", "big"], "write WIDTHxHEIGHT"),
])
def test_errors_are_one_line(samples, tmp_path, args, message):
    files = {"camera": samples / "camera.png", "out": tmp_path / "out.png"}
    result = run(*[a.format(**files) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convtool: error:"), result.stderr
    assert message in lines[0]
    assert not files["out"].exists()


# --------------------------------------------------------------------------
# Looking at kernels
# --------------------------------------------------------------------------

WIDE = {"COLUMNS": "200"}


def test_kernels_lists_every_name_and_form():
    result = run("kernels", env=WIDE)
    assert result.exit_code == 0, result.output
    for name in NAMED_KERNELS:
        assert name in result.output
    assert "1 2 1; 2 4 2; 1 2 1" in result.output and ".mat" in result.output
    assert "WIDTHxHEIGHT" in result.output


def test_kernel_show_small_kernel():
    result = run("kernel", "show", "sobel-x", "--size", "640x480", env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "size: 3x3" in out and "sum: 0 (zero-sum" in out
    assert "separable: yes" in out and "column: [1 2 1]" in out and "row:    [1 0 -1]" in out
    assert "method for a 640x480 RGB image: direct" in out
    rows = [line.split() for line in out.splitlines()[:3]]
    assert rows == [["1", "0", "-1"], ["2", "0", "-2"], ["1", "0", "-1"]]


def test_kernel_show_large_kernel_is_a_shaded_block_and_reports_fft():
    # Issue 13: the shaded block only on a colour terminal; elsewhere it says how to see values.
    colour = {**WIDE, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    result = run("kernel", "show", "disk:20", "--size", "2000x2000", env=colour)
    assert result.exit_code == 0, result.output
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert "shaded" in output and "size: 41x41" in output
    assert "separable: no" in output
    assert "method for a 2000x2000 RGB image: fft" in output


def test_kernel_show_normalize_and_correlate():
    result = run("kernel", "show", "1 2; 3 4", "--normalize", "sum", "--correlate", env=WIDE)
    assert result.exit_code == 0, result.output
    assert "size: 3x3" in result.output  # even axes grow by one zero in front
    assert "sum: 1" in result.output
    assert result.output.splitlines()[1].split() == ["0", "0.4", "0.3"]


def test_help_mentions_width_by_height_and_kernel_options():
    out = run("convolve", "--help", env=WIDE).output
    assert "WIDTHxHEIGHT" in out and "(height, width)" in out
    for option in ("--normalize", "--scale", "--bias", "--correlate", "--abs", "--channels"):
        assert option in out
    assert "scipy.ndimage.correlate" in out


def test_every_kernel_subcommand_has_help():
    import typer.main

    group = typer.main.get_command(app).commands["kernel"]
    assert group.help
    for name, command in group.commands.items():
        assert command.help, name
        for param in command.params:
            assert param.name == "help" or getattr(param, "help", None), f"{name} {param.name}"


@pytest.mark.parametrize("argv", [["--help"], ["kernels", "--help"], ["edges", "--help"],
                                  ["kernel", "show", "--help"]])
def test_help_does_not_import_numpy_or_pillow(argv):
    # (typer renders help with rich itself, so rich is not checked)
    code = (
        "import sys\n"
        "from convtool.cli import main\n"
        f"sys.argv = ['convtool', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'PIL') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy(), check=True)
    assert "HEAVY=" in out.stderr
    assert out.stderr.rsplit("HEAVY=", 1)[1].strip() == "", out.stderr
