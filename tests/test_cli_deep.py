"""16-bit colour, kept encoder settings, --compression, --background, --depth: the command line."""

import pathlib

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin
from typer.testing import CliRunner

from convtool import imaging
from convtool.cli import app

runner = CliRunner()
SUITE = pathlib.Path(__file__).parent / "data" / "pngsuite16"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convtool: error:")
    return lines[0]


def test_sixteen_bit_png_blurred_stays_sixteen_bit(tmp_path):
    out = tmp_path / "o.png"
    result = run("blur", "-s", "1", SUITE / "basn2c16.png", out, "--sigma", "1")
    assert result.exit_code == 0, result.output
    image = imaging.read_image(out)
    assert image.mode == "RGB;16"
    values = np.rint(image.pixels * 65535).astype(np.uint16)
    assert np.count_nonzero(values % 257) > values.size // 4


def test_sixteen_bit_to_jpeg_is_refused_naming_depth_then_written_with_it(tmp_path):
    out = tmp_path / "o.jpg"
    result = run("blur", "-s", "1", SUITE / "basn2c16.png", out)
    assert result.exit_code == 2
    assert "--depth 8" in error_line(result)
    assert not out.exists()
    result = run("blur", "-s", "1", SUITE / "basn2c16.png", out, "--depth", "8")
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.mode == "RGB"


def test_alpha_to_jpeg_is_refused_naming_background_then_flattened(tmp_path):
    source = tmp_path / "a.png"
    pixels = np.zeros((6, 6, 4), np.uint8)
    pixels[..., 1] = 255  # green, half transparent
    pixels[..., 3] = 128
    Image.fromarray(pixels, "RGBA").save(source)
    out = tmp_path / "o.jpg"
    result = run("blur", "-s", "1", source, out)
    assert result.exit_code == 2
    assert "--background COLOR" in error_line(result)
    result = run("blur", "-s", "1", source, out, "--background", "white", "--quality", "100")
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        r, g, b = im.getpixel((3, 3))
    assert g >= 250 and abs(r - 127) <= 3 and abs(b - 127) <= 3


def test_bad_background_and_depth_are_usage_errors(tmp_path):
    out = tmp_path / "o.png"
    result = run("blur", "-s", "1", SUITE / "basn6a16.png", out, "--background", "nocolour")
    assert result.exit_code == 2
    assert "--background 'nocolour' is not a colour" in error_line(result)
    result = run("blur", "-s", "1", SUITE / "basn6a16.png", out, "--depth", "12")
    assert result.exit_code == 2
    assert "--depth must be 8, got 12" in error_line(result)
    assert not out.exists()


def test_jpeg_quality_95_is_not_shrunk_to_75(tmp_path):
    source = tmp_path / "q95.jpg"
    with Image.open("sample_images/chelsea.png") as im:
        im.convert("RGB").save(source, quality=95, subsampling=0)
    out = tmp_path / "o.jpg"
    result = run("blur", "-s", "1", source, out, "--sigma", "0.5")
    assert result.exit_code == 0, result.output
    with Image.open(source) as before, Image.open(out) as after:
        assert after.quantization == before.quantization
        assert JpegImagePlugin.get_sampling(after) == 0


def test_tiff_compression_kept_and_chosen(tmp_path):
    source = tmp_path / "in.tif"
    with Image.open("sample_images/camera.png") as im:
        im.save(source, compression="tiff_lzw")
    kept, chosen = tmp_path / "kept.tif", tmp_path / "chosen.tif"
    assert run("blur", "-s", "1", source, kept).exit_code == 0
    assert run("blur", "-s", "1", source, chosen, "--compression", "zip").exit_code == 0
    with Image.open(kept) as a, Image.open(chosen) as b:
        assert a.info["compression"] == "tiff_lzw"
        assert b.info["compression"] == "tiff_adobe_deflate"


@pytest.mark.parametrize(("args", "message"), [
    (["o.png", "--compression", "lzw"], "--compression applies to TIFF, not PNG"),
    (["o.tif", "--compression", "rle"], "--compression 'rle' is not one a TIFF can have: "
                                        "choose one of none, lzw"),
    (["o.tif", "--compression", "group4"], "needs a bilevel image (a bilevel input with "
                                           "--keep-palette)"),
    (["o.tif", "--quality", "80"], "--quality applies to TIFF only when it is JPEG-compressed"
                                   " (this one would be written uncompressed); add "
                                   "--compression jpeg"),
])
def test_compression_mistakes_are_one_line(tmp_path, args, message):
    result = run("blur", "-s", "1", "sample_images/camera.png", tmp_path / args[0], *args[1:])
    assert result.exit_code == 2
    assert message in error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_sixteen_bit_through_a_pipe(tmp_path):
    data = (SUITE / "basn6a16.png").read_bytes()
    result = runner.invoke(app, ["blur", "-", "-", "--format", "tiff", "--sigma", "1"],
                           input=data)
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "o.tif"
    out.write_bytes(result.stdout_bytes)
    image = imaging.read_image(out)
    assert (image.mode, image.pixels.shape) == ("RGBA;16", (32, 32, 4))


def test_formats_without_alpha_or_depth_name_the_option_that_writes_them(tmp_path):
    bmp, webp = tmp_path / "o.bmp", tmp_path / "o.webp"
    result = run("blur", "-s", "1", SUITE / "basn6a16.png", bmp, "--depth", "8")
    assert result.exit_code == 2
    assert "BMP cannot store an alpha channel" in error_line(result)
    assert "--background COLOR" in error_line(result)
    assert run("blur", "-s", "1", SUITE / "basn6a16.png", bmp, "--depth", "8",
               "--background", "#808080").exit_code == 0
    with Image.open(bmp) as im:
        assert im.mode == "RGB"
    result = run("blur", "-s", "1", SUITE / "basn2c16.png", webp)
    assert result.exit_code == 2
    assert "--depth 8" in error_line(result)
    assert run("blur", "-s", "1", SUITE / "basn2c16.png", webp, "--depth", "8").exit_code == 0
