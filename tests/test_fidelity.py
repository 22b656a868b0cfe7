"""Faithful output or a truthful refusal: the fixes the corpus sweep called for (issue 12).

Colour-key transparency, GIF output, APNG default images, MPO, what each output
format can hold, encoder refusals, damaged inputs.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from convtool.errors import ImageReadError, UsageError
from convtool.imaging import Image, read_image, readable_extensions, write_image
from convtool.imaging.formats import output_format
from convtool.imaging.gif import ALPHA_THRESHOLD
from convtool.imaging.native import libtiff_errors
from convtool.imaging.recover import avif_size, drop_bad_ancillary_chunks

CORPUS = Path(__file__).parent / "corpus"


# ---------------------------------------------------------------- colour-key transparency

@pytest.mark.parametrize(("mode", "key", "value"), [
    ("L", 7, 7), ("RGB", (1, 2, 3), (1, 2, 3)), ("1", 0, 0),
])
def test_colour_key_becomes_alpha(tmp_path, mode, key, value):
    pixels = np.full((4, 5) + (() if mode != "RGB" else (3,)), 200, np.uint8)
    if mode == "1":
        pixels = np.ones((4, 5), bool)
    pixels[1, 2] = value
    path = tmp_path / "key.png"
    PILImage.fromarray(pixels).convert(mode).save(path, transparency=key)
    image = read_image(path)
    assert image.mode == {"L": "LA", "RGB": "RGBA", "1": "LA"}[mode]
    alpha = image.pixels[..., -1]
    assert alpha[1, 2] == 0
    assert np.count_nonzero(alpha == 0) == 1
    assert np.all(np.delete(alpha.ravel(), 1 * 5 + 2) == 1)


def test_colour_key_of_a_4_bit_grey_png_is_stored_at_4_bits():
    # PngSuite tbbn0g04: key 15 of 15 is white, which Pillow scales to 255 but not the key.
    image = read_image(CORPUS / "pngsuite" / "tbbn0g04.png")
    assert image.mode == "LA"
    white = image.pixels[..., 0] == 1.0
    assert white.any()
    assert np.array_equal(image.pixels[..., 1] == 0, white)


# ---------------------------------------------------------------- GIF output

def _rgba(alpha_row, colour=(200, 10, 10)):
    px = np.zeros((2, len(alpha_row), 4), np.float32)
    px[..., :3] = np.asarray(colour, np.float32) / 255
    px[..., 3] = np.asarray(alpha_row, np.float32) / 255
    return Image(px, "RGBA")


def test_gif_alpha_is_thresholded_at_half(tmp_path):
    alphas = [0, 60, ALPHA_THRESHOLD - 1, ALPHA_THRESHOLD, 200, 255]
    write_image(_rgba(alphas), tmp_path / "a.gif")
    with PILImage.open(tmp_path / "a.gif") as im:
        got = np.asarray(im.convert("RGBA"))[0, :, 3]
    assert got.tolist() == [0, 0, 0, 255, 255, 255]


def test_gif_frames_are_disposed_so_earlier_ones_do_not_show_through(tmp_path):
    first = _rgba([255, 255, 255], colour=(255, 0, 0))
    second = _rgba([0, 0, 255], colour=(0, 0, 255))
    first.extra_frames = (second,)
    write_image(first, tmp_path / "anim.gif")
    with PILImage.open(tmp_path / "anim.gif") as im:
        im.seek(1)
        frame = np.asarray(im.convert("RGBA"))
    assert frame[0, :2, 3].tolist() == [0, 0]  # transparent, not the red of frame 0
    assert frame[0, 2].tolist() == [0, 0, 255, 255]


def test_gif_keeps_a_fully_transparent_frame_transparent(tmp_path):
    first = _rgba([255, 255, 255])
    first.extra_frames = (_rgba([0, 0, 0]),)
    write_image(first, tmp_path / "anim.gif")
    with PILImage.open(tmp_path / "anim.gif") as im:
        im.seek(1)
        assert np.asarray(im.convert("RGBA"))[..., 3].max() == 0


# ---------------------------------------------------------------- APNG and MPO

def test_apng_default_image_is_not_an_animation_frame_elsewhere(tmp_path):
    source = CORPUS / "pillow" / "apng_delay.png"
    with PILImage.open(source) as im:
        frames, default = im.n_frames, im.default_image
    assert default
    image = read_image(source)
    assert image.info["default_image"]
    write_image(image, tmp_path / "out.png")
    with PILImage.open(tmp_path / "out.png") as im:
        assert (im.n_frames, im.default_image) == (frames, True)
    write_image(image, tmp_path / "out.webp")
    with PILImage.open(tmp_path / "out.webp") as im:
        assert im.n_frames == frames - 1


def test_mpo_files_are_images_by_extension_and_as_output():
    assert ".mpo" in readable_extensions()
    assert output_format("x.mpo") == "MPO"


def test_multi_picture_jpeg_stays_multi_picture_and_gives_its_primary_elsewhere(tmp_path):
    image = read_image(CORPUS / "pillow" / "multi_picture_named.jpg")
    assert len(image.frames) == 2
    write_image(image, tmp_path / "out.jpg")
    with PILImage.open(tmp_path / "out.jpg") as im:
        assert (im.format, im.n_frames) == ("MPO", 2)
    write_image(image, tmp_path / "out.png")
    with PILImage.open(tmp_path / "out.png") as im:
        assert getattr(im, "n_frames", 1) == 1
        assert im.size == image.pixels.shape[1::-1]


# ---------------------------------------------------------------- what a format can hold

@pytest.mark.parametrize(("mode", "channels", "ext", "words"), [
    ("RGBA", 4, "bmp", "BMP cannot store an alpha channel"),
    ("RGBA", 4, "ppm", "PPM cannot store an alpha channel"),
    ("I;16", 1, "webp", "WEBP holds 8 bits per channel"),
    ("I;16", 1, "avif", "AVIF holds 8 bits per channel"),
    ("I;16", 1, "gif", "GIF holds 8 bits per channel"),
    ("F", 1, "webp", "WEBP holds 8 bits per channel"),
    ("CMYK", 4, "gif", "GIF cannot store CMYK"),
])
def test_formats_that_would_drop_something_refuse_in_one_line(tmp_path, mode, channels, ext,
                                                              words):
    image = Image(np.full((3, 3, channels), 0.5, np.float32), mode)
    with pytest.raises(UsageError, match=words) as caught:
        write_image(image, tmp_path / f"out.{ext}")
    assert "\n" not in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_pages_of_different_sizes_are_refused_for_an_animation_but_kept_in_tiff(tmp_path):
    image = Image(np.zeros((4, 4, 3), np.float32), "RGB")
    image.extra_frames = (Image(np.zeros((2, 6, 3), np.float32), "RGB"),)
    with pytest.raises(UsageError, match=r"different sizes .*write TIFF"):
        write_image(image, tmp_path / "out.webp")
    write_image(image, tmp_path / "out.tif")
    with PILImage.open(tmp_path / "out.tif") as im:
        im.seek(1)
        assert im.size == (6, 2)


def test_a_float_page_after_an_eight_bit_page_keeps_its_raw_values(tmp_path):
    # Pillow's no_rows_per_strip.tif: pages P, F, L. The 8-bit first page takes the banded
    # uint8 path's conversion, which divided the float page by 255 as well.
    from convtool import pipeline
    from convtool.kernels import gaussian_kernel

    rng = np.random.default_rng(5)
    grey = PILImage.fromarray(rng.integers(0, 256, (40, 60), dtype=np.uint8))
    values = (rng.random((40, 60)) * 6 - 1).astype(np.float32)
    source, out = tmp_path / "pages.tif", tmp_path / "out.tif"
    grey.save(source, save_all=True, append_images=[PILImage.fromarray(values, "F"), grey])
    pipeline.process_file(pipeline.FilterJob(gaussian_kernel(1.0)), source, out)
    with PILImage.open(out) as im:
        im.seek(1)
        assert im.mode == "F"
        got = np.asarray(im)
    # A blur stays inside the range of what it averages, and keeps the mean well inside.
    assert values.min() - 1e-5 <= got.min() and got.max() <= values.max() + 1e-5
    assert abs(float(got.mean()) - float(values.mean())) < 0.05


@pytest.mark.parametrize("ext", ["png", "gif", "webp"])
def test_an_animation_refuses_a_later_frame_it_would_round_to_eight_bits(tmp_path, ext):
    image = Image(np.zeros((4, 4, 3), np.float32), "RGB")
    image.extra_frames = (Image(np.full((4, 4, 1), 7.5, np.float32), "F"),)
    with pytest.raises(UsageError, match=r"frame 2 is mode F .*values beyond 8 bits.*TIFF"):
        write_image(image, tmp_path / f"out.{ext}")
    write_image(image, tmp_path / "out.tif")
    with PILImage.open(tmp_path / "out.tif") as im:
        im.seek(1)
        assert im.mode == "F" and float(np.asarray(im).max()) == 7.5


def test_an_animation_of_grey_and_colour_frames_is_still_written(tmp_path):
    image = Image(np.zeros((4, 4, 3), np.float32), "RGB")
    image.extra_frames = (Image(np.full((4, 4, 1), 0.5, np.float32), "L"),)
    write_image(image, tmp_path / "out.png")  # L widens to RGB: nothing lost


def test_an_encoder_runtime_error_is_a_refusal_naming_the_format(tmp_path, monkeypatch):
    # libavif raises RuntimeError("Failed to finish encoding: ...") when it runs out of memory.
    def failing_save(im, fp, filename):
        raise RuntimeError("Failed to finish encoding: Encoding of color planes failed")

    PILImage.init()
    monkeypatch.setitem(PILImage.SAVE, "AVIF", failing_save)
    image = Image(np.zeros((4, 4, 3), np.float32), "RGB")
    with pytest.raises(UsageError, match=r"AVIF encoder cannot write this image \(Failed"):
        write_image(image, tmp_path / "out.avif")
    assert not list(tmp_path.iterdir())


def test_an_encoder_refusal_is_one_line_naming_the_format(tmp_path):
    image = Image(np.zeros((4, 4, 3), np.float32), "RGB",
                  info={"xmp": b"<x>" + b"a" * 70_000 + b"</x>"})
    with pytest.raises(UsageError, match=r"JPEG encoder cannot write this image .*XMP"):
        write_image(image, tmp_path / "out.jpg")


# ---------------------------------------------------------------- damaged or unusual inputs

def _png_chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(extra: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x10\x20")
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra
            + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def test_a_png_with_a_bad_optional_chunk_crc_is_read_without_it():
    data = _png(_png_chunk(b"tEXt", b"k\x00v", crc=1))
    with pytest.raises(Exception):  # noqa: B017 - Pillow's own refusal, any kind
        PILImage.open(io.BytesIO(data)).load()
    assert drop_bad_ancillary_chunks(data) == _png(b"")
    image = read_image(io.BytesIO(data))
    assert image.pixels[0, :, 0].tolist() == pytest.approx([0x10 / 255, 0x20 / 255])


def test_a_png_with_a_bad_critical_chunk_crc_is_still_refused():
    data = _png(b"").replace(b"IEND\xae", b"IEND\x00")
    assert drop_bad_ancillary_chunks(data) is None


def test_an_avif_pillow_cannot_open_is_named_with_its_size(tmp_path):
    ispe = struct.pack(">I4sI", 20, b"ispe", 0) + struct.pack(">II", 17000, 17000)
    data = struct.pack(">I4s4sI", 16, b"ftyp", b"avif", 0) + ispe
    assert avif_size(data) == (17000, 17000)
    path = tmp_path / "big.avif"
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match="17000x17000 is 289,000,000 pixels"):
        read_image(path)
    with pytest.raises(ImageReadError, match="17000x17000 AVIF image that the AVIF decoder"):
        read_image(path, max_pixels=300_000_000)


def test_libtiff_warnings_are_dropped_and_errors_kept():
    text = ("TIFFReadDirectory: Warning, Unknown field with tag 50341.\n"
            "Fax4Decode: Bad code word at line 27 of strip 0 (x 0).\n")
    assert libtiff_errors(text) == ["Fax4Decode: Bad code word at line 27 of strip 0 (x 0)."]


@pytest.mark.parametrize(("name", "words"), [
    ("crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif", "libtiff: "),
    ("libtiff_segfault.tif", "libtiff_segfault.tif: "),
])
def test_libtiff_errors_refuse_the_file_and_stay_off_stderr(name, words, capfd):
    with pytest.raises(ImageReadError, match=words):
        read_image(CORPUS / "pillow" / name)
    assert capfd.readouterr().err == ""


def test_a_damaged_tiff_is_one_line_from_the_command_too(tmp_path):
    # The command looks at an input's header first (is it too big for memory?); libtiff's
    # complaint about a damaged header came out there, before the one-line refusal.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "convtool", "blur",
                             str(CORPUS / "pillow" / "libtiff_segfault.tif"),
                             str(tmp_path / "o.tif"), "--sigma", "1"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("convtool: error:")


def test_webp_in_tiff_is_read_with_libtiffs_complaint_kept_off_stderr(capfd):
    # Pillow's libtiff says "WEBP compression support is not configured"; tifffile reads it.
    image = read_image(CORPUS / "pillow" / "hopper_webp.tif")
    assert image.mode == "RGB" and image.pixels.shape == (128, 128, 3)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(("name", "mode"), [
    ("16_bit_binary.pgm", "I;16"), ("16bit.s.tif", "I"), ("rgb16-565.bmp", "RGB"),
])
def test_sixteen_bit_greyscale_and_rgb565_are_read(name, mode):
    assert read_image(CORPUS / "pillow" / name).mode == mode


# ---------------------------------------------------------------- TIFF metadata

def test_tiff_keeps_xmp_and_the_bytes_of_its_text_tags(tmp_path):
    from PIL import TiffImagePlugin

    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[700] = b"<x:xmpmeta>kept</x:xmpmeta>"
    tags[270] = "café ü".encode()
    tags[315] = b"Ren\xe9"
    PILImage.new("RGB", (4, 4)).save(tmp_path / "in.tif", tiffinfo=tags)
    for ext in ("tif", "jpg"):
        write_image(read_image(tmp_path / "in.tif"), tmp_path / f"out.{ext}")
    with PILImage.open(tmp_path / "out.tif") as im:
        assert im.info["xmp"] == b"<x:xmpmeta>kept</x:xmpmeta>"
        assert im.tag_v2[270].encode("latin-1") == "café ü".encode()
        assert im.tag_v2[315].encode("latin-1") == b"Ren\xe9"
    with PILImage.open(tmp_path / "out.jpg") as im:
        assert im.getexif()[270].encode("latin-1") == "café ü".encode()


def test_an_absurd_dpi_is_left_out_instead_of_crashing_the_encoder(tmp_path):
    image = Image(np.zeros((2, 2, 3), np.float32), "RGB", info={"dpi": (7.2e257, 7.2e257)})
    for ext in ("png", "jpg", "bmp"):
        write_image(image, tmp_path / f"out.{ext}")
        with PILImage.open(tmp_path / f"out.{ext}") as im:
            assert im.size == (2, 2)


def test_a_damaged_exif_block_to_tiff_is_refused_in_one_line(tmp_path):
    image = Image(np.zeros((2, 2, 3), np.float32), "RGB",
                  info={"exif": b"Exif\x00\x00\xff\xff\xff\xff\x00\x00\x00\x08"})
    with pytest.raises(UsageError, match=r"EXIF block is damaged.*TIFF"):
        write_image(image, tmp_path / "out.tif")
    write_image(image, tmp_path / "out.png")  # kept as bytes


def test_a_tiff_in_a_compression_pillows_libtiff_lacks_is_read_through_tifffile(tmp_path):
    import tifffile

    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    path = tmp_path / "webp.tif"
    tifffile.imwrite(path, pixels, photometric="rgb", compression="webp",
                     compressionargs={"level": 100, "lossless": True})
    with pytest.raises(OSError), PILImage.open(path) as im:  # Pillow alone cannot
        im.load()
    image = read_image(path)
    assert image.mode == "RGB" and image.format == "TIFF"
    assert np.array_equal(np.rint(image.pixels * 255).astype(np.uint8), pixels)
    assert read_image(path, integers=True).pixels.dtype == np.uint8
