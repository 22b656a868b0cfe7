"""The fast PNG writer: valid files (every CRC, one zlib stream), exact pixels, metadata."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo
from zlib_ng import zlib_ng

from convtool import imaging
from convtool.imaging import png_encode

MODES = {"L": (np.uint8, 1), "LA": (np.uint8, 2), "RGB": (np.uint8, 3), "RGBA": (np.uint8, 4),
         "I;16": (np.dtype("<u2"), 1)}


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk of a PNG file, checking each CRC as pngcheck does."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", png, pos + 8 + length)
        assert crc == zlib.crc32(data, zlib.crc32(kind)), f"bad CRC in {kind!r}"
        out.append((kind, data))
        pos += 12 + length
    assert pos == len(png)
    assert out[0][0] == b"IHDR" and out[-1] == (b"IEND", b"")
    return out


def pixels(mode: str, shape: tuple[int, int], rng) -> np.ndarray:
    dtype, channels = MODES[mode]
    top = np.iinfo(dtype).max
    noise = rng.integers(0, top, size=(*shape, channels), endpoint=True).astype(dtype)
    ramp = np.linspace(0, top, shape[1]).astype(dtype)[None, :, None]
    noise[: shape[0] // 2] = ramp  # half smooth (filters matter), half noise
    return noise


def decoded(png: bytes, mode: str) -> np.ndarray:
    with PILImage.open(io.BytesIO(png)) as im:
        im.verify()
    with PILImage.open(io.BytesIO(png)) as im:
        a = np.asarray(im)
    if mode == "I;16":
        a = a.astype("<u2")
    return a.reshape(a.shape[0], a.shape[1], -1)


def encode(data, mode, params, **kw) -> bytes:
    buffer = io.BytesIO()
    png_encode.write_png(buffer, data, mode, params, **kw)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("level", [0, 1, 3, 9])
@pytest.mark.parametrize("deflater", ["zlib", "zlib-ng"])
def test_pixels_exact_and_file_valid(mode, level, deflater, rng, monkeypatch):
    monkeypatch.setattr(png_encode, "_PIECE_BYTES", 1000)  # many zlib pieces
    data = pixels(mode, (37, 53), rng)
    module = zlib if deflater == "zlib" else zlib_ng
    png = encode(data, mode, {"compress_level": level}, deflater=module, threads=3)
    found = chunks(png)
    idat = b"".join(d for k, d in found if k == b"IDAT")
    stride = data.shape[1] * data.itemsize * data.shape[2] + 1
    assert len(zlib.decompress(idat)) == data.shape[0] * stride  # one stream, Adler-32 right
    np.testing.assert_array_equal(decoded(png, mode), data)


def test_metadata_chunks_are_pillows(rng):
    data = pixels("RGB", (20, 30), rng)
    text = PngInfo()
    text.add_text("Title", "a test")
    text.add_text("Comment", "non-latin: \u00e9\u4e2d", zip=False)
    exif = PILImage.Exif()
    exif[0x010E] = "described"
    params = {"compress_level": 3, "icc_profile": b"\0fake icc" * 20, "dpi": (150, 150),
              "exif": exif.tobytes(), "pnginfo": text}
    ours = chunks(encode(data, "RGB", params))
    reference = io.BytesIO()
    PILImage.fromarray(data).save(reference, "PNG", **params)
    theirs = chunks(reference.getvalue())

    def meta(found):
        return [(k, d) for k, d in found if k != b"IDAT"]

    assert meta(ours) == meta(theirs)
    assert {b"iCCP", b"pHYs", b"eXIf", b"tEXt", b"iTXt"} <= {k for k, _ in ours}


def test_write_image_uses_it_and_keeps_pixels(tmp_path, samples):
    image = imaging.read_image(samples / "astronaut.png")
    target = tmp_path / "out.png"
    imaging.write_image(image, target)
    reference = io.BytesIO()
    imaging.to_pil(image).save(reference, "PNG", compress_level=imaging.DEFAULT_COMPRESS_LEVEL)
    png = target.read_bytes()
    assert png != reference.getvalue()  # not Pillow's encoder...
    assert len(png) < 1.05 * len(reference.getvalue())  # ...and no bigger than its level 3
    np.testing.assert_array_equal(decoded(png, "RGB"), decoded(reference.getvalue(), "RGB"))


def test_zlib_ng_is_the_deflater_when_installed():
    assert png_encode._deflater() is zlib_ng


def test_pieces_are_written_as_they_are_done(rng, monkeypatch):
    """The writer never holds the whole filtered image: IDAT chunks go out piece by piece."""
    monkeypatch.setattr(png_encode, "_PIECE_BYTES", 4000)
    data = pixels("RGB", (200, 100), rng)  # 60,000 bytes of rows: 15 pieces
    made = []
    real = png_encode._filtered
    monkeypatch.setattr(png_encode, "_filtered",
                        lambda rows, above, kind: made.append(rows.shape[0]) or real(
                            rows, above, kind))
    png = encode(data, "RGB", {"compress_level": 3}, threads=2)
    assert max(made) * 100 * 3 <= 4000 and sum(made) == 200
    assert sum(1 for k, _ in chunks(png) if k == b"IDAT") >= 15
    np.testing.assert_array_equal(decoded(png, "RGB"), data)


def test_palette_and_animation_go_to_pillow():
    assert not png_encode.can_write("P", 1)
    assert not png_encode.can_write("RGB", 2)
    assert not png_encode.can_write("F", 1)
    assert all(png_encode.can_write(mode, 1) for mode in MODES)


@settings(deadline=None, max_examples=60)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_combine(first, second):
    combined = png_encode._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_one_piece_starts_no_thread(rng, monkeypatch):
    """A small image is one zlib piece: deflated on the calling thread (a batch's workers)."""
    monkeypatch.setattr(png_encode, "ThreadPoolExecutor",
                        lambda *a, **k: pytest.fail("a thread pool for one piece"))
    data = pixels("RGB", (40, 60), rng)
    np.testing.assert_array_equal(decoded(encode(data, "RGB", {"compress_level": 3}), "RGB"),
                                  data)
