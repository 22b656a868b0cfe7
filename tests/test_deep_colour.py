"""16-bit colour and float RGB: read and written without loss, metadata kept, explicit reductions.

OpenCV (a test oracle, never imported by convtool) reads the files convtool
writes, so the round trips are not only convtool agreeing with itself.
"""

import pathlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from convtool import imaging
from convtool.errors import ImageReadError, UsageError
from convtool.imaging import SaveOptions

SUITE = pathlib.Path(__file__).parent / "data" / "pngsuite16"
CHANNELS = {"RGB;16": 3, "RGBA;16": 4, "LA;16": 2, "RGB;F": 3}


def deep_values(mode, rng, shape=(37, 53)):
    """Values of ``mode`` that 8 bits cannot hold: every 16-bit level pattern, or raw floats."""
    size = (*shape, CHANNELS[mode])
    if mode == "RGB;F":
        return (rng.standard_normal(size) * 3).astype(np.float32)  # negative, > 1
    return rng.integers(0, 65536, size=size, dtype=np.uint16)


def as_image(values, mode, info=None):
    pixels = values if mode == "RGB;F" else values.astype(np.float32) / 65535
    return imaging.Image(pixels=pixels, mode=mode, info=dict(info or {}))


def stored(image):
    """The values an image's pixels are written as."""
    if image.mode == "RGB;F":
        return image.pixels
    return np.rint(image.pixels * 65535).astype(np.uint16)


def oracle(path):
    """What OpenCV reads: channels in RGB(A) order, (H, W, C)."""
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert a is not None, path
    a = a[:, :, np.newaxis] if a.ndim == 2 else a
    if a.shape[2] >= 3:
        a = np.concatenate([a[..., 2::-1], a[..., 3:]], axis=-1)
    return a


@pytest.mark.parametrize(("mode", "ext"), [
    ("RGB;16", "png"), ("RGBA;16", "png"), ("LA;16", "png"),
    ("RGB;16", "tif"), ("RGBA;16", "tif"), ("LA;16", "tif"), ("RGB;F", "tif"),
])
def test_round_trip_is_exact(tmp_path, rng, mode, ext):
    values = deep_values(mode, rng)
    path = tmp_path / f"out.{ext}"
    imaging.write_image(as_image(values, mode), path)
    back = imaging.read_image(path)
    assert back.mode == mode
    assert back.format == {"png": "PNG", "tif": "TIFF"}[ext]
    assert np.array_equal(stored(back), values)
    if mode != "LA;16":  # OpenCV turns grey + alpha into BGRA
        seen = oracle(path)
        assert seen.dtype == values.dtype
        assert np.array_equal(seen, values)


def test_pngsuite_sixteen_bit_files_read_as_opencv_reads_them(capfd):
    expected_modes = {"basn2c16": "RGB;16", "basn6a16": "RGBA;16", "basn4a16": "LA;16",
                      "basi2c16": "RGB;16"}
    for stem, mode in expected_modes.items():
        image = imaging.read_image(SUITE / f"{stem}.png")
        assert image.mode == mode
        values = stored(image)
        if mode == "LA;16":
            grey_alpha = cv2.imread(str(SUITE / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(values[..., 0], grey_alpha[..., 0])
            assert np.array_equal(values[..., 1], grey_alpha[..., 3])
        else:
            assert np.array_equal(values, oracle(SUITE / f"{stem}.png"))
    # The interlaced file makes libpng print a warning of its own: kept off the terminal.
    assert capfd.readouterr().err == ""


def test_transparent_colour_of_a_sixteen_bit_rgb_png_becomes_alpha():
    image = imaging.read_image(SUITE / "tbbn2c16.png")
    assert image.mode == "RGBA;16"
    values = stored(image)
    key = np.all(values[..., :3] == 65535, axis=-1)  # its tRNS colour is white
    assert key.any() and not key.all()
    assert np.array_equal(values[..., 3], np.where(key, 0, 65535))


def test_blur_keeps_sixteen_bits(tmp_path):
    from convtool.kernels import gaussian_kernel
    from convtool.pipeline import FilterJob, apply_job

    ramp = np.linspace(0, 1, 200, dtype=np.float32)
    pixels = np.stack([np.tile(ramp, (20, 1))] * 3, axis=-1)
    image = imaging.Image(pixels=pixels, mode="RGB;16")
    out = apply_job(FilterJob(gaussian_kernel(1.5)), image)
    assert out.mode == "RGB;16"
    imaging.write_image(out, tmp_path / "b.png")
    values = stored(imaging.read_image(tmp_path / "b.png"))
    assert np.count_nonzero(values % 257) > values.size // 2  # not 8-bit levels scaled up
    assert np.abs(values / 65535 - out.pixels).max() <= 0.5 / 65535 + 1e-7


def exif_with(**tags):
    exif = PILImage.Exif()
    codes = {"description": 270, "make": 271, "orientation": 274, "copyright": 33432}
    for name, value in tags.items():
        exif[codes[name]] = value
    return exif.tobytes()


def test_png_metadata_survives_as_for_eight_bit(tmp_path, rng):
    info = {"icc_profile": b"\x00not-really-icc" * 9, "dpi": (300, 300),
            "exif": exif_with(make="Camera", orientation=6),
            "text": {"Title": "sixteen", "Comment": "bits"}}
    path = tmp_path / "m.png"
    imaging.write_image(as_image(deep_values("RGBA;16", rng), "RGBA;16", info), path)
    back = imaging.read_image(path)
    with PILImage.open(path) as im:  # Pillow, reading only the chunks
        im.verify()
    assert back.info["icc_profile"] == info["icc_profile"]
    assert tuple(round(v) for v in back.info["dpi"]) == (300, 300)
    assert {k: v for k, v in back.info["text"].items() if k != "Software"} == info["text"]
    exif = PILImage.Exif()
    exif.load(back.info["exif"])
    assert (exif[271], exif[274]) == ("Camera", 6)


@pytest.mark.parametrize("mode", ["RGB;16", "LA;16", "RGB;F"])
def test_tiff_metadata_survives_as_for_eight_bit(tmp_path, rng, mode):
    info = {"icc_profile": b"\x00icc" * 20, "dpi": (240.0, 120.0), "xmp": b"<x:xmpmeta/>",
            "exif": exif_with(description="a scan", make="Scanner", orientation=3,
                              copyright="someone")}
    path = tmp_path / "m.tif"
    imaging.write_image(as_image(deep_values(mode, rng), mode, info), path)
    back = imaging.read_image(path)
    assert back.mode == mode
    for key in ("icc_profile", "xmp"):
        assert back.info[key] == info[key]
    assert back.info["dpi"] == pytest.approx(info["dpi"])
    exif = PILImage.Exif()
    exif.load(back.info["exif"])
    assert {t: exif[t] for t in (270, 271, 274, 33432)} == {
        270: "a scan", 271: "Scanner", 274: 3, 33432: "someone"}


def test_multi_page_sixteen_bit_tiff_keeps_every_page(tmp_path, rng):
    pages = [deep_values("RGB;16", rng) for _ in range(3)]
    image = as_image(pages[0], "RGB;16")
    image.extra_frames = tuple(as_image(p, "RGB;16") for p in pages[1:])
    imaging.write_image(image, tmp_path / "pages.tif")
    back = imaging.read_image(tmp_path / "pages.tif")
    assert [stored(f).tolist() for f in back.frames] == [p.tolist() for p in pages]


@pytest.mark.parametrize("compression", ["lzw", "deflate", "packbits", "zstd", "lzma"])
def test_sixteen_bit_tiff_keeps_its_compression(tmp_path, rng, compression):
    import tifffile

    values = deep_values("RGB;16", rng)
    source = tmp_path / "in.tif"
    imaging.write_image(as_image(values, "RGB;16"), source,
                        SaveOptions(compression=compression))
    out = tmp_path / "out.tif"
    imaging.write_image(imaging.read_image(source), out)
    with tifffile.TiffFile(out) as tif:
        written = tif.pages.first.compression.name
    assert written == {"deflate": "ADOBE_DEFLATE"}.get(compression, compression.upper())
    assert np.array_equal(stored(imaging.read_image(out)), values)


def test_tiled_bigtiff_input_is_read(tmp_path, rng):
    import tifffile

    values = deep_values("RGBA;16", rng, shape=(70, 90))
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, values, photometric="rgb", extrasamples=["unassalpha"],
                     tile=(32, 32), bigtiff=True, compression="zlib")
    image = imaging.read_image(path)
    assert image.mode == "RGBA;16"
    assert np.array_equal(stored(image), values)


def test_jpeg_compression_is_refused_for_sixteen_bit_tiff(tmp_path, rng):
    image = as_image(deep_values("RGB;16", rng), "RGB;16")
    with pytest.raises(UsageError, match="compression jpeg needs 8 bits"):
        imaging.write_image(image, tmp_path / "j.tif", SaveOptions(compression="jpeg"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("mode", "fmt"), [("RGB;16", "jpg"), ("RGBA;16", "webp"),
                                           ("RGB;F", "png"), ("I;16", "jpg")])
def test_eight_bit_formats_refuse_deep_images_naming_depth(tmp_path, rng, mode, fmt):
    values = (rng.integers(0, 65536, (5, 6, 1), dtype=np.uint16) if mode == "I;16"
              else deep_values(mode, rng, (5, 6)))
    image = (imaging.Image(values.astype(np.float32) / 65535, "I;16") if mode == "I;16"
             else as_image(values, mode))
    with pytest.raises(UsageError, match="depth 8"):
        imaging.write_image(image, tmp_path / f"o.{fmt}")
    assert list(tmp_path.iterdir()) == []


def test_depth_8_writes_eight_bits_rounded(tmp_path, rng):
    values = deep_values("RGB;16", rng)
    imaging.write_image(as_image(values, "RGB;16"), tmp_path / "o.png", SaveOptions(depth=8))
    back = imaging.read_image(tmp_path / "o.png")
    assert back.mode == "RGB"
    expected = np.rint(values / 65535 * 255)
    assert np.array_equal(np.rint(back.pixels * 255), expected)


def test_depth_8_takes_float_values_on_the_unit_scale(tmp_path):
    pixels = np.array([[[-0.5, 0.5, 2.0]]], dtype=np.float32)
    imaging.write_image(imaging.Image(pixels, "RGB;F"), tmp_path / "o.jpg",
                        SaveOptions(depth=8, quality=100))
    with PILImage.open(tmp_path / "o.jpg") as im:
        r, g, b = im.getpixel((0, 0))
    assert (r, b) == (0, 255) and abs(g - 128) <= 2


def test_background_flattens_alpha(tmp_path):
    pixels = np.zeros((4, 4, 4), dtype=np.float32)
    pixels[..., 0] = 1.0  # red
    pixels[..., 3] = np.linspace(0, 1, 4)[np.newaxis, :]  # transparent to opaque
    path = tmp_path / "o.png"
    imaging.write_image(imaging.Image(pixels, "RGBA"), path, SaveOptions(background="#0000ff"))
    with PILImage.open(path) as im:
        assert im.mode == "RGB"
        row = [im.getpixel((x, 0)) for x in range(4)]
    assert row == [(0, 0, 255), (85, 0, 170), (170, 0, 85), (255, 0, 0)]


def test_background_on_grey_alpha_stays_grey_unless_coloured(tmp_path):
    pixels = np.full((2, 2, 2), 0.5, dtype=np.float32)  # grey 50%, alpha 50%
    imaging.write_image(imaging.Image(pixels, "LA"), tmp_path / "g.jpg",
                        SaveOptions(background="white", quality=100))
    imaging.write_image(imaging.Image(pixels, "LA"), tmp_path / "c.png",
                        SaveOptions(background="red"))
    with PILImage.open(tmp_path / "g.jpg") as grey, PILImage.open(tmp_path / "c.png") as coloured:
        assert grey.mode == "L" and abs(grey.getpixel((0, 0)) - 191) <= 1
        assert coloured.mode == "RGB" and coloured.getpixel((0, 0)) == (191, 64, 64)


def test_background_keeps_sixteen_bits(tmp_path, rng):
    values = deep_values("RGBA;16", rng)
    imaging.write_image(as_image(values, "RGBA;16"), tmp_path / "o.png",
                        SaveOptions(background="black"))
    back = imaging.read_image(tmp_path / "o.png")
    assert back.mode == "RGB;16"
    expected = np.rint(values[..., :3].astype(np.float64) * values[..., 3:] / 65535)
    assert np.abs(stored(back) - expected).max() <= 1


def test_unknown_background_colour_is_a_usage_error():
    with pytest.raises(UsageError, match=r"background 'blurple' is not a colour.*#rrggbb"):
        SaveOptions(background="blurple")


def test_without_the_optional_codecs_sixteen_bit_colour_is_refused_naming_the_extra(
        monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import fails
    with pytest.raises(ImageReadError, match=r"pip install 'convtool\[16bit\]'"):
        imaging.read_image(SUITE / "basn2c16.png")


def test_png_text_chunks_are_read_as_pillow_reads_them(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    from convtool.imaging import png16

    chunks = PngInfo()
    chunks.add_text("Plain", "latin-1 é")
    chunks.add_text("Squeezed", "z" * 300, zip=True)
    chunks.add_itxt("Intl", "ünïcode ✓", lang="fr", tkey="Intl")
    chunks.add_itxt("IntlZ", "ç" * 200, zip=True)
    path = tmp_path / "t.png"
    PILImage.new("RGB", (3, 2)).save(path, pnginfo=chunks)
    with PILImage.open(path) as im:
        expected = dict(im.text)
    assert len(expected) == 4
    assert png16.text_chunks(path.read_bytes()) == expected


def test_sixteen_bit_alpha_to_jpeg_names_both_options(tmp_path, rng):
    image = as_image(deep_values("RGBA;16", rng, (4, 4)), "RGBA;16")
    with pytest.raises(UsageError, match=r"depth 8 .* and background COLOR"):
        imaging.write_image(image, tmp_path / "o.jpg")
    imaging.write_image(image, tmp_path / "o.jpg", SaveOptions(depth=8, background="white"))
    with PILImage.open(tmp_path / "o.jpg") as im:
        assert (im.mode, im.size) == ("RGB", (4, 4))


def damaged_copies(data):
    """Truncations and single flipped bytes through the whole file."""
    for cut in (8, 20, len(data) // 3, len(data) // 2, len(data) - 20, len(data) - 1):
        yield data[:cut]
    for at in range(8, len(data), max(1, len(data) // 25)):
        yield data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:]


@pytest.mark.parametrize("kind", ["png", "tif"])
def test_damaged_sixteen_bit_files_are_one_clean_error(tmp_path, rng, capfd, kind):
    good = tmp_path / f"good.{kind}"
    imaging.write_image(as_image(deep_values("RGBA;16", rng, (24, 31)), "RGBA;16"), good,
                        SaveOptions(compression="deflate") if kind == "tif" else None)
    outcomes = set()
    for index, data in enumerate(damaged_copies(good.read_bytes())):
        path = tmp_path / f"bad{index}.{kind}"
        path.write_bytes(data)
        try:
            image = imaging.read_image(path)
        except ImageReadError as e:
            outcomes.add("refused")
            assert str(e).startswith(str(path))
        else:  # a flipped byte in pixel data or an unchecked field may still decode
            outcomes.add("read")
            assert image.pixels.shape[2] in (1, 2, 3, 4)
    assert "refused" in outcomes
    assert capfd.readouterr().err == ""


def test_sixteen_bit_ppm_is_read_whole_and_written_back_exactly(tmp_path, rng):
    values = deep_values("RGB;16", rng, (7, 9))
    binary, plain = tmp_path / "b.ppm", tmp_path / "p.ppm"
    binary.write_bytes(b"P6\n# sixteen bits\n9 7\n65535\n" + values.astype(">u2").tobytes())
    plain.write_text("P3\n9 7\n65535\n" + "\n".join(map(str, values.ravel())) + "\n")
    for path in (binary, plain):
        image = imaging.read_image(path)
        assert (image.mode, image.format) == ("RGB;16", "PPM")
        assert np.array_equal(stored(image), values)
    out = tmp_path / "o.ppm"
    imaging.write_image(imaging.read_image(binary), out)
    assert out.read_bytes() == binary.read_bytes().replace(b"# sixteen bits\n", b"")


def test_ppm_maximum_value_sets_the_scale(tmp_path):
    path = tmp_path / "twelve.ppm"
    path.write_bytes(b"P6\n2 1\n4095\n" + np.array([0, 4095, 2048, 1, 2, 3], ">u2").tobytes())
    image = imaging.read_image(path)
    assert image.mode == "RGB;16"
    assert np.allclose(image.pixels[0, 0], [0.0, 1.0, 2048 / 4095])
    assert np.allclose(image.pixels[0, 1] * 4095, [1, 2, 3])
    path.write_bytes(b"P6\n2 1\n4095\n" + bytes(5))  # short
    with pytest.raises(ImageReadError, match="cannot decode"):
        imaging.read_image(path)


@pytest.mark.parametrize("default_image", [False, True])
def test_sixteen_bit_apng_keeps_every_frame_its_timing_and_default_image(
        tmp_path, rng, default_image):
    import imagecodecs  # an independent APNG reader (libpng), not convtool's

    frames = [deep_values("RGBA;16", rng, shape=(9, 13)) for _ in range(3)]
    first = as_image(frames[0], "RGBA;16", {"loop": 2, "default_image": default_image})
    rest = [as_image(f, "RGBA;16", {"duration": 40.0 * (i + 1)}) for i, f in enumerate(frames[1:])]
    if not default_image:
        first.info["duration"] = 20.0
    first.extra_frames = tuple(rest)
    path = tmp_path / "anim.png"
    imaging.write_image(first, path, SaveOptions())
    assert np.array_equal(imagecodecs.apng_decode(path.read_bytes()), np.stack(frames))
    with PILImage.open(path) as im:
        assert im.n_frames == 3 and bool(getattr(im, "default_image", False)) == default_image
        durations = []
        for index in range(im.n_frames):
            im.seek(index)
            durations.append(im.info.get("duration"))
        assert im.info["loop"] == 2
    expected = [40.0, 80.0] if default_image else [20.0, 40.0, 80.0]
    assert [d for d in durations if d is not None][-len(expected):] == expected
    back = imaging.read_image(path)
    assert back.mode == "RGBA;16" and len(back.frames) == 3
    assert np.array_equal(np.stack([stored(f) for f in back.frames]), np.stack(frames))
    assert bool(back.info.get("default_image")) == default_image


def test_libpng_warnings_stay_off_pythons_stderr_too(tmp_path):
    # imagecodecs reports libpng's warnings through sys.stderr, which is not fd 2 under a test
    # runner or in a notebook: a refusal was two lines there.
    from typer.testing import CliRunner

    from convtool.cli import app

    result = CliRunner().invoke(app, ["blur", str(SUITE / "basi2c16.png"),
                                      str(tmp_path / "o.jpg"), "--sigma", "1"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("convtool: error:")


def test_sixteen_bit_cmyk_tiff_is_kept_to_tiff_and_refused_elsewhere(tmp_path, rng):
    import tifffile

    ink = rng.integers(0, 65536, size=(12, 17, 4), dtype=np.uint16)
    source = tmp_path / "ink.tif"
    tifffile.imwrite(source, ink, photometric="separated")
    image = imaging.read_image(source)
    assert image.mode == "CMYK;16"
    assert np.array_equal(stored(image), ink)
    imaging.write_image(image, tmp_path / "back.tif")
    with tifffile.TiffFile(tmp_path / "back.tif") as tif:
        assert int(tif.pages[0].photometric) == 5  # separated (CMYK)
        assert np.array_equal(tif.pages[0].asarray(), ink)
    for ext in ("png", "jpg", "webp"):
        with pytest.raises(UsageError, match=r"CMYK;16.*TIFF"):
            imaging.write_image(image, tmp_path / f"out.{ext}")
    imaging.write_image(image, tmp_path / "eight.jpg", SaveOptions(depth=8))
    with PILImage.open(tmp_path / "eight.jpg") as im:
        assert im.mode == "CMYK"
