"""convtool.imaging: modes and bit depth, alpha, linear light, metadata, atomic writes."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image, ImageCms, PngImagePlugin

from convtool import imaging
from convtool.errors import ImageReadError, ImageWriteError, UsageError
from convtool.kernels import gaussian_kernel, mean_kernel
from convtool.pipeline import FilterJob, apply_job, process_file


def array(path):
    with Image.open(path) as im:
        return np.asarray(im)


def opened(path):
    """Mode, format and info of a file, read and closed."""
    with Image.open(path) as im:
        im.load()
        return im.mode, im.format, dict(im.info)


def listing(folder):
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.is_file())


def png16(path, data, color_type):
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour)."""
    h, w = data.shape[:2]
    raw = b"".join(b"\x00" + data[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def gradient16():
    # Every value distinct, most above 255: 8-bit anywhere would show.
    return (np.arange(40 * 60, dtype=np.uint32).reshape(40, 60) * 27 + 5).astype(np.uint16)


# --------------------------------------------------------------------------
# Modes and bit depth
# --------------------------------------------------------------------------

def make(mode, rng):
    """A small image of ``mode`` with varied values."""
    shape = (12, 17)
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        bands = len(mode)
        data = rng.integers(0, 256, size=(*shape, bands), dtype=np.uint8)
        return Image.frombytes(mode, shape[::-1], data.tobytes())
    if mode == "P":
        return make("RGB", rng).quantize(colors=16)
    if mode == "1":
        return make("L", rng).convert("1")
    if mode == "I;16":
        data = rng.integers(0, 65536, size=shape, dtype=np.uint16)
        return Image.frombytes("I;16", shape[::-1], data.astype("<u2").tobytes())
    if mode == "I":
        data = rng.integers(-2**31, 2**31 - 1, size=shape, dtype=np.int32)
        return Image.frombytes("I", shape[::-1], data.tobytes())
    if mode == "F":
        data = rng.normal(0, 1000, size=shape).astype(np.float32)
        return Image.frombytes("F", shape[::-1], data.tobytes())
    raise AssertionError(mode)


@pytest.mark.parametrize("mode, ext, written", [
    ("L", "png", "L"), ("LA", "png", "LA"), ("RGB", "png", "RGB"), ("RGBA", "png", "RGBA"),
    ("L", "tif", "L"), ("RGB", "tif", "RGB"),
    ("CMYK", "tif", "CMYK"), ("P", "png", "RGB"), ("1", "png", "L"),
    ("I;16", "png", "I;16"), ("I;16", "tif", "I;16"), ("I", "tif", "I"), ("F", "tif", "F"),
])
def test_round_trip_keeps_mode_and_exact_pixels(rng, tmp_path, mode, ext, written):
    source = tmp_path / f"in.{ext}"
    original = make(mode, rng)
    original.save(source)
    image = imaging.read_image(source)
    out = tmp_path / f"out.{ext}"
    imaging.write_image(image, out)
    got_mode, _, _ = opened(out)
    assert got_mode == written
    with Image.open(source) as im:
        expected = np.asarray(im.convert(written) if written != im.mode else im)
    np.testing.assert_array_equal(array(out), expected)


def test_sixteen_bit_png_keeps_values_above_255(tmp_path, gradient16):
    source = tmp_path / "g16.png"
    Image.frombytes("I;16", gradient16.shape[::-1], gradient16.astype("<u2").tobytes()).save(source)
    image = imaging.read_image(source)
    assert image.mode == "I;16"
    assert image.pixels.dtype == np.float32
    assert image.pixels.max() <= 1.0
    out = tmp_path / "blurred.png"
    job = FilterJob(mean_kernel(3), mode="nearest")
    imaging.write_image(apply_job(job, image), out)
    assert opened(out)[0] == "I;16"
    got = array(out).astype(np.float64)
    expected = ndi.uniform_filter(gradient16.astype(np.float64), 3, mode="nearest")
    assert got.max() > 255
    assert np.abs(got - np.rint(expected)).max() <= 1


def test_float_tiff_keeps_negative_and_large_values(tmp_path):
    data = np.linspace(-500.0, 1500.0, 30 * 20, dtype=np.float32).reshape(30, 20)
    source = tmp_path / "f.tif"
    Image.frombytes("F", (20, 30), data.tobytes()).save(source)
    image = imaging.read_image(source)
    assert image.mode == "F"
    np.testing.assert_array_equal(image.pixels[:, :, 0], data)
    out = tmp_path / "out.tif"
    imaging.write_image(apply_job(FilterJob(mean_kernel(3), mode="wrap"), image), out)
    got = array(out)
    assert got.dtype == np.float32
    expected = ndi.uniform_filter(data.astype(np.float64), 3, mode="wrap")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    assert got.min() < -400 and got.max() > 1400


def test_32_bit_integer_values_kept_exactly(tmp_path):
    data = np.array([[2**31 - 1, -2**31], [2**30 + 1, -7]], dtype=np.int32)
    source = tmp_path / "i.tif"
    Image.frombytes("I", (2, 2), data.tobytes()).save(source)
    image = imaging.read_image(source)
    assert image.mode == "I"
    out = tmp_path / "out.tif"
    imaging.write_image(image, out)
    np.testing.assert_array_equal(array(out), data)


def test_integer_output_rounds_to_nearest_and_clips():
    values = np.array([[-0.3, 1.7, 100.4 / 255, 100.6 / 255, 0.5]], dtype=np.float32)
    pil = imaging.to_pil(imaging.Image(values[:, :, np.newaxis], "L"))
    assert np.asarray(pil).tolist() == [[0, 255, 100, 101, 128]]
    pil16 = imaging.to_pil(imaging.Image(values[:, :, np.newaxis], "I;16"))
    assert np.asarray(pil16).tolist() == [[0, 65535, 25803, 25854, 32768]]


def test_palette_input_written_as_rgb_or_requantised(rng, tmp_path):
    source = tmp_path / "p.png"
    make("P", rng).save(source)
    image = imaging.read_image(source)
    assert (image.mode, image.source_mode) == ("RGB", "P")
    plain, kept = tmp_path / "rgb.png", tmp_path / "p_out.png"
    imaging.write_image(image, plain)
    imaging.write_image(image, kept, imaging.SaveOptions(keep_palette=True))
    assert opened(plain)[0] == "RGB"
    assert opened(kept)[0] == "P"
    with Image.open(kept) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), array(plain))


def test_transparent_palette_becomes_rgba(tmp_path):
    im = Image.new("P", (8, 8), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    im.info["transparency"] = 0
    im.paste(0, (0, 0, 4, 8))
    source = tmp_path / "t.png"
    im.save(source, transparency=0)
    image = imaging.read_image(source)
    assert image.mode == "RGBA"
    assert image.pixels[0, 0, 3] == 0 and image.pixels[0, 7, 3] == 1


def test_bilevel_written_as_grey_or_thresholded(tmp_path):
    data = np.zeros((10, 10), dtype=np.uint8)
    data[:, 5:] = 255
    source = tmp_path / "b.png"
    Image.frombytes("L", (10, 10), data.tobytes()).convert("1").save(source)
    image = imaging.read_image(source)
    assert (image.mode, image.source_mode) == ("L", "1")
    blurred = apply_job(FilterJob(mean_kernel(3)), image)
    grey, bilevel = tmp_path / "g.png", tmp_path / "b1.png"
    imaging.write_image(blurred, grey)
    imaging.write_image(blurred, bilevel, imaging.SaveOptions(keep_palette=True))
    assert opened(grey)[0] == "L"
    assert set(np.unique(array(grey))) > {0, 255}  # the edge is grey
    assert opened(bilevel)[0] == "1"
    assert set(np.unique(array(bilevel))) <= {False, True}


def test_sixteen_bit_colour_is_read_whole_not_truncated(tmp_path):
    source = tmp_path / "rgb16.png"
    data = (np.arange(60, dtype=np.uint16).reshape(4, 5, 3) * 1000 + 7)
    png16(source, data, color_type=2)
    image = imaging.read_image(source)
    assert image.mode == "RGB;16"
    assert np.array_equal(np.rint(image.pixels * 65535).astype(np.uint16), data)


def test_unwritable_mode_for_format_is_a_usage_error_and_leaves_no_file(tmp_path):
    image = imaging.Image(np.zeros((3, 3, 1), np.float32), "F")
    with pytest.raises(UsageError, match=r"PNG cannot hold .*mode F.*TIFF.*depth 8"):
        imaging.write_image(image, tmp_path / "f.png")
    with pytest.raises(UsageError, match=r"JPEG cannot store an alpha.*background"):
        imaging.write_image(imaging.Image(np.zeros((3, 3, 4), np.float32), "RGBA"),
                            tmp_path / "a.jpg")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Multi-frame
# --------------------------------------------------------------------------

def test_animated_gif_every_frame_filtered_durations_and_loop_kept(tmp_path):
    frames = []
    for i in range(3):
        im = Image.new("RGB", (16, 12), (0, 0, 0))
        im.paste((255, 255, 255), (2 + 4 * i, 2, 6 + 4 * i, 8))
        frames.append(im)
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                   loop=0)
    image = imaging.read_image(source)
    assert len(image.frames) == 3
    out = tmp_path / "out.gif"
    imaging.write_image(apply_job(FilterJob(gaussian_kernel(1.0)), image), out)
    with Image.open(out) as im:
        assert im.n_frames == 3
        assert im.info["loop"] == 0
        durations, greys = [], []
        for index in range(3):
            im.seek(index)
            durations.append(im.info["duration"])
            rgb = np.asarray(im.convert("RGB"))
            greys.append(np.count_nonzero((rgb[:, :, 0] > 0) & (rgb[:, :, 0] < 255)))
    assert durations == [100, 200, 300]
    assert all(count > 0 for count in greys)  # every frame has blurred edges


def test_multipage_tiff_keeps_every_page_and_its_mode(tmp_path):
    pages = [Image.new("L", (8, 6), 10), Image.new("RGB", (5, 4), (1, 2, 3))]
    source = tmp_path / "pages.tif"
    pages[0].save(source, save_all=True, append_images=pages[1:])
    out = tmp_path / "out.tif"
    imaging.write_image(imaging.read_image(source), out)
    with Image.open(out) as im:
        assert im.n_frames == 2
        assert (im.mode, im.size) == ("L", (8, 6))
        im.seek(1)
        assert (im.mode, im.size) == ("RGB", (5, 4))
        assert np.asarray(im)[0, 0].tolist() == [1, 2, 3]


def test_many_frames_into_single_frame_format_is_refused(tmp_path):
    frame = imaging.Image(np.zeros((4, 4, 3), np.float32), "RGB")
    image = imaging.Image(frame.pixels, "RGB", extra_frames=(frame,))
    with pytest.raises(UsageError, match="2 frames but JPEG holds one"):
        imaging.write_image(image, tmp_path / "out.jpg")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Alpha and linear light
# --------------------------------------------------------------------------

def red_square():
    pixels = np.zeros((32, 32, 4), np.float32)
    pixels[10:22, 10:22] = (1.0, 0.0, 0.0, 1.0)
    return imaging.Image(pixels, "RGBA")


def test_premultiplied_blur_has_no_dark_fringe():
    out = apply_job(FilterJob(gaussian_kernel(2.0)), red_square())
    rgba = np.asarray(imaging.to_pil(out))
    visible = rgba[:, :, 3] > 0
    assert visible.sum() > 12 * 12  # the square grew soft edges
    assert (rgba[visible, 0] == 255).all()
    assert (rgba[visible, 1:3] == 0).all()


def test_separate_alpha_darkens_the_fringe():
    out = apply_job(FilterJob(gaussian_kernel(2.0), alpha="separate"), red_square())
    rgba = np.asarray(imaging.to_pil(out))
    visible = rgba[:, :, 3] > 0
    assert (rgba[visible, 0] < 200).any()


def test_ignore_alpha_keeps_alpha_and_filters_colour():
    image = red_square()
    out = apply_job(FilterJob(gaussian_kernel(2.0), alpha="ignore"), image)
    np.testing.assert_array_equal(out.pixels[:, :, 3], image.pixels[:, :, 3])
    assert 0 < out.pixels[10, 10, 0] < 1
    assert out.pixels.shape == image.pixels.shape


def test_premultiply_round_trip_and_zero_alpha(rng):
    pixels = rng.random((6, 7, 4), dtype=np.float32)
    pixels[0, 0, 3] = 0.0
    back = imaging.unpremultiply(imaging.premultiply(pixels))
    np.testing.assert_allclose(back[1:], pixels[1:], rtol=1e-5)
    assert back[0, 0, :3].tolist() == [0, 0, 0]


def test_srgb_curves():
    assert imaging.srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-5)
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(imaging.linear_to_srgb(imaging.srgb_to_linear(x)), x, atol=1e-6)
    assert imaging.srgb_to_linear(x).dtype == np.float32
    # Out-of-range values (from sharpening kernels) stay finite.
    assert np.isfinite(imaging.linear_to_srgb(np.array([-0.5, 2.0], np.float32))).all()


def test_linear_light_average_of_black_and_white_is_brighter():
    stripes = np.zeros((4, 8, 1), np.float32)
    stripes[:, ::2] = 1.0
    image = imaging.Image(stripes, "L")
    box = mean_kernel(2)
    plain = np.asarray(imaging.to_pil(apply_job(FilterJob(box, mode="wrap"), image)))
    linear = np.asarray(imaging.to_pil(apply_job(FilterJob(box, mode="wrap", linear=True),
                                                 image)))
    assert (plain == 128).all()  # sRGB 0.5: looks too dark
    assert (linear == 188).all()  # linear 0.5 encoded: what the eye averages


def test_linear_is_refused_for_float_images():
    image = imaging.Image(np.zeros((3, 3, 1), np.float32), "F")
    with pytest.raises(UsageError, match=r"^linear applies"):
        apply_job(FilterJob(mean_kernel(3), linear=True), image)


def test_unknown_alpha_mode():
    with pytest.raises(UsageError, match="unknown alpha mode 'dark'"):
        FilterJob(mean_kernel(3), alpha="dark")


# --------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------

@pytest.fixture
def metadata():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 on display
    exif[0x010F] = "convtool test camera"
    return icc, exif.tobytes()


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_icc_exif_and_dpi_survive_filtering(tmp_path, metadata, ext):
    icc, exif = metadata
    source = tmp_path / f"in.{ext}"
    Image.new("RGB", (40, 20), (200, 30, 30)).save(source, icc_profile=icc, exif=exif,
                                                    dpi=(300, 300))
    out = tmp_path / f"out.{ext}"
    process_file(FilterJob(gaussian_kernel(1.0)), source, out)
    _, _, before = opened(source)
    _, _, after = opened(out)
    assert after["icc_profile"] == icc
    assert after["exif"] == before["exif"]
    with Image.open(out) as im:
        assert im.getexif()[0x0112] == 6
        assert im.size == (40, 20)  # not rotated
    if ext != "webp":
        assert after["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_png_text_chunks_survive(tmp_path):
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Comment", "scanned 1998")
    chunks.add_itxt("Title", "Ünïcode title", lang="de")
    source = tmp_path / "in.png"
    Image.new("L", (8, 8), 50).save(source, pnginfo=chunks)
    out = tmp_path / "out.png"
    process_file(FilterJob(mean_kernel(3)), source, out)
    with Image.open(out) as im:
        # Kept, with convtool named as the Software that wrote the file (issue 13).
        assert im.text == {"Comment": "scanned 1998", "Title": "Ünïcode title",
                           "Software": "convtool"}


def test_tiff_keeps_icc_dpi_and_orientation(tmp_path, metadata):
    icc, exif = metadata
    source = tmp_path / "in.jpg"
    Image.new("RGB", (30, 10), (0, 90, 200)).save(source, icc_profile=icc, exif=exif,
                                                   dpi=(150, 150))
    out = tmp_path / "out.tif"
    process_file(FilterJob(mean_kernel(3)), source, out)
    with Image.open(out) as im:
        # Stored unrotated, with the tag: Pillow itself applies it when loading a TIFF.
        assert im.tag_v2[0x0112] == 6
        assert im.tile[0].extents == (0, 0, 30, 10)
        im.load()
        assert im.info["icc_profile"] == icc
        assert im.info["dpi"] == pytest.approx((150, 150))


# --------------------------------------------------------------------------
# Save options
# --------------------------------------------------------------------------

def test_default_png_compress_level_and_explicit_levels(tmp_path, samples):
    image = imaging.read_image(samples / "camera.png")
    image.info = {}
    default, fastest, smallest = (tmp_path / n for n in ("d.png", "0.png", "9.png"))
    imaging.write_image(image, default)
    imaging.write_image(image, fastest, imaging.SaveOptions(compress_level=0))
    imaging.write_image(image, smallest, imaging.SaveOptions(compress_level=9))
    explicit = tmp_path / "3.png"
    imaging.write_image(image, explicit,
                        imaging.SaveOptions(compress_level=imaging.DEFAULT_COMPRESS_LEVEL))
    assert default.read_bytes() == explicit.read_bytes()
    assert fastest.stat().st_size > default.stat().st_size > smallest.stat().st_size
    for path in (default, fastest, smallest):
        np.testing.assert_array_equal(array(path), array(samples / "camera.png"))


def test_jpeg_quality(tmp_path, samples):
    image = imaging.read_image(samples / "coffee.png")
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpg"
    imaging.write_image(image, low, imaging.SaveOptions(quality=20))
    imaging.write_image(image, high, imaging.SaveOptions(quality=95))
    assert high.stat().st_size > 2 * low.stat().st_size


@pytest.mark.parametrize("options, target, message", [
    ({"quality": 0}, "o.jpg", "quality must be a whole number from 1 to 100, got 0"),
    ({"compress_level": 10}, "o.png", "compress-level must be a whole number from 0 to 9"),
    ({"quality": 80}, "o.png", "JPEG-compressed TIFF, not PNG"),
    ({"compress_level": 1}, "o.jpg", "compress_level applies to PNG, not JPEG"),
    ({}, "-", "needs format"),
    ({"format": "nope"}, "o.png", "unknown output format 'nope'"),
])
def test_bad_save_options(tmp_path, options, target, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        imaging.check_output(tmp_path / target if target != "-" else target,
                             imaging.SaveOptions(**options))


# --------------------------------------------------------------------------
# Safe writes
# --------------------------------------------------------------------------

@pytest.fixture
def existing(tmp_path, samples):
    """A folder holding an input and an existing output."""
    source = tmp_path / "in.png"
    source.write_bytes((samples / "camera.png").read_bytes())
    target = tmp_path / "out.png"
    target.write_bytes(b"previous output")
    return source, target


def test_error_mid_save_leaves_folder_unchanged(existing, monkeypatch):
    source, target = existing
    before = listing(target.parent)

    def broken_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageWriteError, match=r"out\.png: cannot write \(No space left"):
        process_file(FilterJob(mean_kernel(3)), source, target)
    assert listing(target.parent) == before


def test_interrupt_mid_save_leaves_folder_unchanged(existing, monkeypatch):
    source, target = existing
    before = listing(target.parent)

    def interrupted(self, fp, format=None, **params):
        fp.write(b"\x89PNG partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        process_file(FilterJob(mean_kernel(3)), source, target)
    assert listing(target.parent) == before


def test_unwritable_folder(existing):
    source, _ = existing
    blocker = source.parent / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    before = listing(source.parent)
    with pytest.raises(ImageWriteError, match="cannot write in"):
        process_file(FilterJob(mean_kernel(3)), source, blocker / "out.png")
    assert listing(source.parent) == before


def test_input_and_output_may_be_the_same_file_in_place(existing, samples):
    source, _ = existing
    before = source.read_bytes()
    with pytest.raises(UsageError, match="the output is the input file"):
        process_file(FilterJob(mean_kernel(5)), source, source)
    assert source.read_bytes() == before
    process_file(FilterJob(mean_kernel(5)), source, source, in_place=True)
    expected = np.rint(ndi.uniform_filter(array(samples / "camera.png").astype(float), 5))
    assert np.abs(array(source) - expected).max() <= 1
    assert sorted(p.name for p in source.parent.iterdir()) == ["in.png", "out.png"]


def test_no_clobber_refuses_and_keeps_existing_file(existing):
    source, target = existing
    with pytest.raises(ImageWriteError, match="already exists; not replaced"):
        process_file(FilterJob(mean_kernel(3)), source, target,
                     save=imaging.SaveOptions(no_clobber=True))
    image = imaging.read_image(source)
    # Also when the file appears after the early check: the final step refuses too.
    with pytest.raises(ImageWriteError, match="already exists"):
        imaging.write_image(image, target, imaging.SaveOptions(no_clobber=True))
    assert target.read_bytes() == b"previous output"
    assert sorted(p.name for p in target.parent.iterdir()) == ["in.png", "out.png"]
    fresh = target.parent / "fresh.png"
    imaging.write_image(image, fresh, imaging.SaveOptions(no_clobber=True))
    assert opened(fresh)[0] == "L"


def test_default_overwrites_and_keeps_permissions(existing):
    source, target = existing
    os.chmod(target, 0o640)
    process_file(FilterJob(mean_kernel(3)), source, target)
    assert opened(target)[0] == "L"
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_new_file_gets_usual_permissions(existing):
    source, _ = existing
    umask = os.umask(0o022)
    try:
        target = source.parent / "new.png"
        process_file(FilterJob(mean_kernel(3)), source, target)
    finally:
        os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------
# Decompression bombs, streams
# --------------------------------------------------------------------------

def test_max_pixels_guard(tmp_path, monkeypatch):
    source = tmp_path / "in.png"
    Image.new("L", (20, 10), 0).save(source)
    with pytest.raises(ImageReadError, match=r"20x10 is 200 pixels.*max_pixels 200"):
        imaging.read_image(source, max_pixels=199)
    assert imaging.read_image(source, max_pixels=200).pixels.shape == (10, 20, 1)
    # By default Pillow's limit applies, and stays as it was.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageReadError, match="more than the limit of 100"):
        imaging.read_image(source)
    assert Image.MAX_IMAGE_PIXELS == 100
    assert imaging.read_image(source, max_pixels=1000).mode == "L"
    with pytest.raises(UsageError, match="max_pixels"):
        imaging.read_image(source, max_pixels=0)


def test_read_from_file_object_and_encode_to_bytes(samples):
    data = (samples / "horse.png").read_bytes()
    image = imaging.read_image(io.BytesIO(data))
    assert image.mode == "RGBA"
    encoded = imaging.encode_image(image, imaging.SaveOptions(format="png"))
    with Image.open(io.BytesIO(encoded)) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), array(samples / "horse.png"))


def test_tiff_orientation_kept_without_rotating_pixels(tmp_path):
    data = np.arange(10 * 30, dtype=np.uint8).reshape(10, 30)
    source = tmp_path / "in.tif"
    Image.frombytes("L", (30, 10), data.tobytes()).save(source, tiffinfo={0x0112: 6})
    image = imaging.read_image(source)
    assert image.format == "TIFF"
    np.testing.assert_array_equal(image.pixels[:, :, 0], data / np.float32(255))
    out = tmp_path / "out.tif"
    imaging.write_image(image, out)
    with Image.open(out) as im:
        assert im.tag_v2[0x0112] == 6
        assert im.tile[0].extents == (0, 0, 30, 10)
    np.testing.assert_array_equal(imaging.read_image(out).pixels, image.pixels)


def test_palette_image_remembers_its_format(tmp_path):
    source = tmp_path / "p.gif"
    Image.new("P", (4, 4), 3).save(source)
    assert imaging.read_image(source).format == "GIF"


@pytest.mark.parametrize("frames", [1, 2])
def test_lossless_webp_stays_lossless(rng, tmp_path, frames):
    images = [make("RGBA", rng) for _ in range(frames)]
    source = tmp_path / "in.webp"
    images[0].save(source, lossless=True, exact=True, save_all=frames > 1,
                   append_images=images[1:])
    image = imaging.read_image(source)
    assert image.info["lossless"] is True
    out = tmp_path / "out.webp"
    imaging.write_image(image, out)
    with Image.open(source) as a, Image.open(out) as b:
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    # A lossy input is not marked, and an explicit --quality means lossy.
    lossy = tmp_path / "lossy.webp"
    imaging.write_image(image, lossy, imaging.SaveOptions(quality=50))
    assert "lossless" not in imaging.read_image(lossy).info
