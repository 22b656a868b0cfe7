"""Mistakes a newcomer makes with one file (issue 13): each gets one clear line, nothing is lost."""

import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convtool.cli import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


def one_error(result, code):
    """The run failed with ``code`` and said so in exactly one ``convtool: error:`` line."""
    assert result.exit_code == code, (result.exit_code, result.output)
    (line,) = error_lines(result)
    assert line.startswith("convtool: error: ")
    assert "Traceback" not in result.output
    return line


@pytest.fixture
def photo(samples, tmp_path):
    path = tmp_path / "camera.png"
    shutil.copy(samples / "camera.png", path)
    return path


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


# --- Two paths: INPUT OUTPUT never silently replaces a file convtool did not write ----------


def test_two_existing_photos_are_not_overwritten_without_overwrite(samples, tmp_path):
    # `convtool blur *.png` in a folder of exactly two photos.
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    shutil.copy(samples / "camera.png", first)
    shutil.copy(samples / "chelsea.png", second)
    before = second.read_bytes()
    line = one_error(run("blur", first, second, "--sigma", "2"), 2)
    assert "--overwrite" in line and str(second) in line
    assert second.read_bytes() == before
    result = run("blur", first, second, "--sigma", "2", "--overwrite")
    assert result.exit_code == 0, result.output
    assert second.read_bytes() != before


def test_an_output_convtool_wrote_is_replaced_on_the_next_run(photo, tmp_path):
    out = tmp_path / "out.png"
    assert run("blur", photo, out, "--sigma", "1").exit_code == 0
    first = pixels(out)
    result = run("blur", photo, out, "--sigma", "3")
    assert result.exit_code == 0, result.output
    assert not np.array_equal(pixels(out), first)


@pytest.mark.parametrize(("ext", "marked"), [(".png", True), (".tif", True), (".jpg", False),
                                             (".webp", False)])
def test_the_rule_by_format(photo, tmp_path, ext, marked):
    # PNG and TIFF outputs carry convtool's Software mark; others cannot without
    # rewriting the EXIF they keep, so replacing them always takes --overwrite.
    out = tmp_path / f"out{ext}"
    assert run("blur", photo, out, "--sigma", "1").exit_code == 0
    again = run("blur", photo, out, "--sigma", "2")
    if marked:
        assert again.exit_code == 0, again.output
    else:
        assert "--overwrite" in one_error(again, 2)
    Image.open(photo).convert("L").save(tmp_path / f"other{ext}")
    one_error(run("blur", photo, tmp_path / f"other{ext}", "--sigma", "2"), 2)


def test_a_16_bit_tiff_convtool_wrote_is_replaced_on_the_next_run(tmp_path):
    # 16-bit colour TIFFs are written through tifffile, not Pillow: they carry the mark too,
    # even when the input names another program in its Software tag.
    import tifffile  # the test extra installs it (convtool[16bit])
    source, out = tmp_path / "deep.tif", tmp_path / "out.tif"
    ramp = np.arange(40 * 50 * 3, dtype=np.uint16).reshape(40, 50, 3) * 20
    tifffile.imwrite(source, ramp, software="scanner 1.0", photometric="rgb")
    assert run("blur", source, out, "--sigma", "1").exit_code == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].tags["Software"].value == "convtool"
        assert tif.pages[0].dtype == np.uint16
    again = run("blur", source, out, "--sigma", "2")
    assert again.exit_code == 0, again.output
    shutil.copy(source, tmp_path / "theirs.tif")
    one_error(run("blur", out, tmp_path / "theirs.tif", "--sigma", "1"), 2)


def test_no_clobber_still_refuses_even_a_file_convtool_wrote(photo, tmp_path):
    out = tmp_path / "out.png"
    assert run("blur", photo, out, "--sigma", "1").exit_code == 0
    result = run("blur", photo, out, "--sigma", "2", "--no-clobber")
    assert result.exit_code == 1


# --- Parameters that silently meant something else -------------------------------------------


def test_blur_without_sigma_is_a_usage_error(photo, tmp_path):
    line = one_error(run("blur", photo, tmp_path / "o.png"), 2)
    assert "--sigma" in line
    assert not (tmp_path / "o.png").exists()


def test_blur_with_radius_alone_names_the_missing_sigma(photo, tmp_path):
    line = one_error(run("blur", photo, tmp_path / "o.png", "--radius", "3"), 2)
    assert "--sigma" in line


def test_radius_zero_is_refused(photo, tmp_path):
    line = one_error(run("blur", photo, tmp_path / "o.png", "--sigma", "2", "--radius", "0"), 2)
    assert "--radius" in line and "0" in line


def test_mean_takes_a_width_x_height_size_as_the_kernel_language_does(photo, tmp_path):
    outs = {}
    for name, args in {"size": ("mean", "--size", "7x3"),
                       "spec": ("convolve", "--kernel", "mean:7x3"),
                       "transposed": ("mean", "--size", "3x7")}.items():
        outs[name] = tmp_path / f"{name}.png"
        result = run(args[0], photo, outs[name], *args[1:])
        assert result.exit_code == 0, result.output
    assert np.array_equal(pixels(outs["size"]), pixels(outs["spec"]))
    assert not np.array_equal(pixels(outs["size"]), pixels(outs["transposed"]))


def test_a_bad_mean_size_names_both_forms(photo, tmp_path):
    line = one_error(run("mean", photo, tmp_path / "o.png", "--size", "7by3"), 2)
    assert "7by3" in line and "WIDTHxHEIGHT" in line


def test_a_huge_sigma_is_done_separably_or_suggests_radius(photo, tmp_path):
    result = run("blur", photo, tmp_path / "o.png", "--sigma", "1000")
    if result.exit_code != 0:
        line = one_error(result, 2)
        assert "--radius" in line
    else:  # separable: two 1-D passes of 8001 taps, never a 8001x8001 array
        assert pixels(tmp_path / "o.png").std() < pixels(photo).std()


def test_debug_after_the_command_is_understood(photo, tmp_path):
    result = run("blur", photo, tmp_path / "o.png", "--sigma", "2", "--debug")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.png").exists()


@pytest.mark.parametrize(("typed", "meant"), [("-sigma", "--sigma"), ("-out-dir", "--out-dir"),
                                                ("-mode", "--mode")])
def test_a_long_option_with_one_dash_says_what_was_read(photo, tmp_path, typed, meant):
    line = one_error(run("blur", photo, tmp_path / "o.png", typed, "2"), 2)
    assert typed in line and meant in line
    assert "Input should be" not in line  # pydantic's wording
    assert not (tmp_path / "o.png").exists()


def test_a_bad_number_shows_what_was_read(photo, tmp_path):
    line = one_error(run("blur", photo, tmp_path / "o.png", "--sigma", "two"), 2)
    assert "'two'" in line and "--sigma" in line
    assert "Input should be" not in line


# --- Options that were silently ignored -------------------------------------------------------


def test_skip_existing_for_one_file_says_it_skipped(photo, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep me")
    result = run("blur", photo, out, "--sigma", "2", "--skip-existing")
    assert result.exit_code == 0
    assert "skipped" in result.stderr and str(out) in result.stderr
    assert out.read_bytes() == b"keep me"


def test_in_place_with_out_dir_is_refused(photo, tmp_path):
    line = one_error(run("blur", photo, "--out-dir", tmp_path / "out", "--sigma", "2",
                         "--in-place"), 2)
    assert "--in-place" in line and "--out-dir" in line
    assert not (tmp_path / "out").exists()


def test_stdin_with_out_dir_is_refused(tmp_path):
    line = one_error(run("blur", "-", "--out-dir", tmp_path / "out", "--sigma", "2"), 2)
    assert "'-'" in line and "--out-dir" in line


# --- Formats ----------------------------------------------------------------------------------


def test_format_that_contradicts_the_extension_is_refused(photo, tmp_path):
    line = one_error(run("blur", photo, tmp_path / "o.png", "--sigma", "1", "--format", "jpg"), 2)
    assert ".png" in line and "JPEG" in line.upper()
    assert not (tmp_path / "o.png").exists()


def test_format_that_agrees_with_the_extension_is_fine(photo, tmp_path):
    for fmt, ext in (("jpeg", ".jpg"), ("tif", ".tiff"), ("PNG", ".png")):
        result = run("blur", photo, tmp_path / f"o{ext}", "--sigma", "1", "--format", fmt)
        assert result.exit_code == 0, result.output


def test_ico_says_it_shrinks_large_images(photo, tmp_path):
    out = tmp_path / "o.ico"
    result = run("blur", photo, out, "--sigma", "1")  # camera.png is 512x512
    assert "256" in result.stderr
    if result.exit_code == 0:
        with Image.open(out) as im:
            assert max(im.size) <= 256
    else:
        assert not out.exists()


@pytest.mark.parametrize("ext", [".heic", ".jxl"])
def test_known_but_unsupported_formats_say_so(photo, tmp_path, ext):
    result = run("blur", photo, tmp_path / f"o{ext}", "--sigma", "1")
    if ext in Image.registered_extensions():  # a Pillow plugin for it is installed
        assert result.exit_code == 0, result.output
        return
    line = one_error(result, 2)
    assert "not supported by this install" in line
    assert "cannot tell" not in line
