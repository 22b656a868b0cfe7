"""The input's encoder settings are kept when the format stays the same; options override them."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import JpegImagePlugin

from convtool import imaging
from convtool.errors import UsageError
from convtool.imaging import SaveOptions

SAMPLE = "sample_images/astronaut.png"


@pytest.fixture
def photo():
    with PILImage.open(SAMPLE) as im:
        return im.convert("RGB").resize((256, 256))


def jpeg_file(path, photo, **params):
    photo.save(path, "JPEG", **params)
    return path


def test_jpeg_keeps_its_quantisation_tables_and_subsampling(tmp_path, photo):
    source = jpeg_file(tmp_path / "q95.jpg", photo, quality=95, subsampling=0)
    out = tmp_path / "out.jpg"
    imaging.write_image(imaging.read_image(source), out)
    with PILImage.open(source) as before, PILImage.open(out) as after:
        assert after.quantization == before.quantization
        assert JpegImagePlugin.get_sampling(after) == 0  # 4:4:4, not Pillow's 4:2:0
    # Re-encoded at Pillow's default (75, 4:2:0) it would be far smaller.
    default = tmp_path / "default.jpg"
    imaging.write_image(imaging.read_image(source), default, SaveOptions(quality=75))
    assert out.stat().st_size > 0.9 * source.stat().st_size
    assert default.stat().st_size < 0.6 * out.stat().st_size


def test_jpeg_quality_option_replaces_the_tables_but_keeps_subsampling(tmp_path, photo):
    source = jpeg_file(tmp_path / "q95.jpg", photo, quality=95, subsampling=1)
    out = tmp_path / "out.jpg"
    imaging.write_image(imaging.read_image(source), out, SaveOptions(quality=40))
    with PILImage.open(source) as before, PILImage.open(out) as after:
        assert after.quantization != before.quantization
        assert JpegImagePlugin.get_sampling(after) == 1
    assert out.stat().st_size < 0.6 * source.stat().st_size


def test_greyscale_and_progressive_jpeg_kept(tmp_path, photo):
    source = jpeg_file(tmp_path / "g.jpg", photo.convert("L"), quality=90, progressive=True)
    out = tmp_path / "out.jpg"
    imaging.write_image(imaging.read_image(source), out)
    with PILImage.open(source) as before, PILImage.open(out) as after:
        assert after.mode == "L"
        assert after.quantization == before.quantization
        assert after.info.get("progressive")


def test_png_input_written_as_jpeg_takes_the_default_quality(tmp_path):
    image = imaging.read_image(SAMPLE)
    assert "quantization" not in image.info
    out = tmp_path / "o.jpg"
    imaging.write_image(image, out)
    buffer = io.BytesIO()
    with PILImage.open(SAMPLE) as im:
        im.convert("RGB").save(buffer, "JPEG")
    with PILImage.open(out) as written, PILImage.open(buffer) as default:
        assert written.quantization == default.quantization


def tiff_file(path, im, compression):
    im.save(path, "TIFF", compression=compression)
    return path


@pytest.mark.parametrize(("compression", "pillow"), [
    ("lzw", "tiff_lzw"), ("deflate", "tiff_adobe_deflate"), ("packbits", "packbits"),
    ("jpeg", "jpeg"), ("none", "raw"),
])
def test_tiff_keeps_its_compression(tmp_path, photo, compression, pillow):
    source = tiff_file(tmp_path / "in.tif", photo, pillow)
    out = tmp_path / "out.tif"
    image = imaging.read_image(source)
    assert image.info["compression"] == compression
    imaging.write_image(image, out)
    with PILImage.open(out) as written:
        assert written.info["compression"] == pillow


def fax(tmp_path):
    page = np.zeros((400, 300), dtype=bool)
    page[50:60, 20:280] = True
    page[100:300, 140:150] = True
    return tiff_file(tmp_path / "fax.tif", PILImage.fromarray(page).convert("1"), "group4")


def test_bilevel_group4_stays_group4_while_it_stays_bilevel(tmp_path):
    source = fax(tmp_path)
    out = tmp_path / "out.tif"
    imaging.write_image(imaging.read_image(source), out, SaveOptions(keep_palette=True))
    with PILImage.open(out) as written:
        assert (written.mode, written.info["compression"]) == ("1", "group4")
    assert out.stat().st_size < 4 * source.stat().st_size


def test_group4_input_no_longer_bilevel_is_written_deflate_not_uncompressed(tmp_path):
    source = fax(tmp_path)
    out = tmp_path / "out.tif"
    imaging.write_image(imaging.read_image(source), out)  # greyscale now
    with PILImage.open(out) as written:
        assert (written.mode, written.info["compression"]) == ("L", "tiff_adobe_deflate")
    assert out.stat().st_size < 400 * 300 / 10


def test_compression_option_overrides_the_input(tmp_path, photo):
    source = tiff_file(tmp_path / "in.tif", photo, "raw")
    out = tmp_path / "out.tif"
    imaging.write_image(imaging.read_image(source), out, SaveOptions(compression="zip"))
    with PILImage.open(out) as written:
        assert written.info["compression"] == "tiff_adobe_deflate"
    assert out.stat().st_size < source.stat().st_size


def test_png_input_written_as_tiff_stays_uncompressed_unless_asked(tmp_path):
    out = tmp_path / "o.tif"
    imaging.write_image(imaging.read_image(SAMPLE), out)
    with PILImage.open(out) as written:
        assert written.info["compression"] == "raw"


def test_jpeg_tiff_takes_quality_and_other_compressions_refuse_it(tmp_path, photo):
    source = tiff_file(tmp_path / "in.tif", photo, "jpeg")
    low, high = tmp_path / "low.tif", tmp_path / "high.tif"
    imaging.write_image(imaging.read_image(source), low, SaveOptions(quality=20))
    imaging.write_image(imaging.read_image(source), high, SaveOptions(quality=95))
    assert low.stat().st_size < high.stat().st_size
    with pytest.raises(UsageError, match="quality applies to TIFF only when it is JPEG-compressed"):
        imaging.write_image(imaging.read_image(source), tmp_path / "x.tif",
                            SaveOptions(quality=50, compression="lzw"))


@pytest.mark.parametrize(("mode", "compression", "message"), [
    ("L", "group4", "needs a bilevel image"),
    ("RGBA", "jpeg", "needs 8 bits per channel, greyscale, RGB or CMYK"),
])
def test_compression_that_cannot_hold_the_image_is_refused(tmp_path, mode, compression,
                                                           message):
    image = imaging.Image(np.zeros((4, 4, len(mode)), np.float32), mode)
    with pytest.raises(UsageError, match=message):
        imaging.write_image(image, tmp_path / "o.tif", SaveOptions(compression=compression))
    assert list(tmp_path.iterdir()) == []


def test_quality_with_another_tiff_compression_is_refused_before_any_work(tmp_path):
    with pytest.raises(UsageError, match="not with compression lzw"):
        imaging.check_output(tmp_path / "o.tif", SaveOptions(quality=80, compression="lzw"))


def test_compression_option_is_for_tiff_only(tmp_path):
    with pytest.raises(UsageError, match="compression applies to TIFF, not PNG"):
        imaging.check_output(tmp_path / "o.png", SaveOptions(compression="lzw"))
    with pytest.raises(UsageError, match="compression 'rle' is not one a TIFF can have"):
        SaveOptions(compression="rle")


def test_sixteen_bit_quantisation_tables_kept_without_a_word_on_stderr(tmp_path, capfd):
    source = "tests/data/hopper_16bit_qtables.jpg"  # see tests/data/LICENSES.md
    out = tmp_path / "o.jpg"
    imaging.write_image(imaging.read_image(source), out)
    with PILImage.open(source) as before, PILImage.open(out) as after:
        assert max(max(t) for t in before.quantization.values()) > 255
        assert after.quantization == before.quantization
    assert capfd.readouterr().err == ""
