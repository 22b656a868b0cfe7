"""Plain PNG and JPEG pixels through imagecodecs: the same image as Pillow's, or Pillow decodes.

Each file is read twice, with the fast decoder and with it switched off (as
without the ``fast`` extra), and the two reads must agree on every sample, the
mode, the format and the metadata; the files it must leave to Pillow are
checked to go there.
"""

import contextlib
import io
import pathlib
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from convtool.errors import ImageReadError
from convtool.imaging import fastdecode, read_image

CORPUS = pathlib.Path(__file__).parent / "corpus"
RNG = np.random.default_rng(7)


@pytest.fixture
def spy(monkeypatch):
    """Counts the files the fast decoder decoded."""
    used = []
    real = fastdecode.decode

    def counting(im, source):
        result = real(im, source)
        if result is not None:
            used.append(im.format)
        return result

    monkeypatch.setattr(fastdecode, "decode", counting)
    return used


def both_reads(path, monkeypatch, **kwargs):
    """(fast read, Pillow read) of ``path``: an Image or the error message."""
    results = []
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(fastdecode, "_codec", lambda name: None)
            try:
                results.append(read_image(path, **kwargs))
            except ImageReadError as e:
                results.append(str(e))
    return results


def assert_same(fast, slow):
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    assert fast.mode == slow.mode and fast.format == slow.format
    assert fast.pixels.dtype == slow.pixels.dtype
    np.testing.assert_array_equal(fast.pixels, slow.pixels)
    assert fast.info == slow.info


def photo(mode: str, size=(37, 23)) -> Image.Image:
    channels = len(mode) if mode != "L" else 1
    data = RNG.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    data[:, :, 0] = np.linspace(0, 255, size[0], dtype=np.uint8)  # some structure too
    return Image.fromarray(data.squeeze(2) if channels == 1 else data, mode)


def exif() -> bytes:
    tags = Image.Exif()
    tags[0x0112] = 6  # orientation: kept as a tag, the pixels stay as stored
    tags[0x010E] = "a description"
    return tags.tobytes()


def text_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "a title")
    info.add_itxt("Comment", "ünïcode", lang="de", tkey="Kommentar")
    info.add_text("Big", "z" * 2000, zip=True)
    return info


@pytest.mark.parametrize("integers", [True, False])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_png_modes_match_pillow(tmp_path, monkeypatch, spy, mode, integers):
    path = tmp_path / "in.png"
    photo(mode).save(path, pnginfo=text_info(), dpi=(300, 300))
    fast, slow = both_reads(path, monkeypatch, integers=integers)
    assert_same(fast, slow)
    assert spy == ([] if mode == "LA" else ["PNG"])  # imagecodecs' libspng has no LA
    assert fast.info["text"]["Comment"].lang == "de"  # an iTXt keeps its language


@pytest.mark.parametrize("integers", [True, False])
@pytest.mark.parametrize(("mode", "options"), [
    ("L", {}), ("RGB", {"quality": 90}), ("RGB", {"subsampling": 0, "quality": 95}),
    ("RGB", {"progressive": True}),
    ("RGB", {"exif": exif(), "dpi": (72, 72), "comment": b"a comment"}),
])
def test_jpeg_matches_pillow(tmp_path, monkeypatch, spy, mode, options, integers):
    path = tmp_path / "in.jpg"
    photo(mode, (64, 40)).save(path, **options)
    fast, slow = both_reads(path, monkeypatch, integers=integers)
    assert_same(fast, slow)
    assert spy == ["JPEG"]


def move_text_after_pixels(data: bytes) -> bytes:
    """The PNG with its tEXt chunks moved after the IDAT chunks."""
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        chunks.append(data[pos:pos + 12 + length])
        pos += 12 + length
    text = [c for c in chunks if c[4:8] == b"tEXt"]
    rest = [c for c in chunks if c[4:8] != b"tEXt"]
    return data[:8] + b"".join(rest[:-1] + text + rest[-1:])


def test_text_after_the_pixels_goes_to_pillow(tmp_path, monkeypatch, spy):
    buffer = io.BytesIO()
    photo("RGB").save(buffer, format="PNG", pnginfo=text_info())
    path = tmp_path / "late-text.png"
    path.write_bytes(move_text_after_pixels(buffer.getvalue()))
    fast, slow = both_reads(path, monkeypatch, integers=True)
    assert_same(fast, slow)
    assert fast.info["text"]["Title"] == "a title"
    assert spy == []


@pytest.mark.parametrize(("name", "make"), [
    ("key.png", lambda p: photo("RGB").save(p, transparency=(1, 2, 3))),
    ("palette.png", lambda p: photo("RGB").convert("P").save(p)),
    ("grey16.png", lambda p: Image.fromarray(
        RNG.integers(0, 65535, (9, 11), dtype=np.uint16)).save(p)),
    ("cmyk.jpg", lambda p: photo("RGB").convert("CMYK").save(p)),
    ("anim.png", lambda p: photo("RGB").save(p, save_all=True, append_images=[photo("RGB")])),
])
def test_other_files_go_to_pillow(tmp_path, monkeypatch, spy, name, make):
    path = tmp_path / name
    make(path)
    fast, slow = both_reads(path, monkeypatch, integers=True)
    assert_same(fast, slow)
    assert spy == []


def test_a_jpeg_cut_short_is_refused_as_before(tmp_path, monkeypatch, spy):
    buffer = io.BytesIO()
    photo("RGB", (200, 120)).save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:-600])  # no EOI: libjpeg-turbo would only warn
    fast, slow = both_reads(path, monkeypatch, integers=True)
    assert isinstance(fast, str) and "truncated" in fast
    assert fast == slow and spy == []


def test_a_png_with_a_bad_pixel_checksum_is_refused_as_before(tmp_path, monkeypatch):
    path = tmp_path / "in.png"
    photo("RGB").save(path)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    (length,) = struct.unpack_from(">I", data, idat - 4)
    data[idat + 4 + length] ^= 0xFF  # the IDAT chunk's CRC
    path.write_bytes(bytes(data))
    fast, slow = both_reads(path, monkeypatch, integers=True)
    assert isinstance(fast, str) and fast == slow


def test_damaged_pixel_data_is_refused_as_before(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    photo("RGB").save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    idat = data.index(b"IDAT")
    (length,) = struct.unpack_from(">I", data, idat - 4)
    body = bytearray(data[idat + 4:idat + 4 + length])
    body[length // 2] ^= 0x5A
    data[idat + 4:idat + 4 + length] = body
    crc = zlib.crc32(bytes(body), zlib.crc32(b"IDAT"))
    data[idat + 4 + length:idat + 8 + length] = struct.pack(">I", crc)  # a valid CRC
    path = tmp_path / "in.png"
    path.write_bytes(bytes(data))
    fast, slow = both_reads(path, monkeypatch, integers=True)
    if isinstance(slow, str):
        assert fast == slow
    else:  # damage Pillow decodes without complaint: the same pixels
        assert_same(fast, slow)


def test_stdin_bytes_take_the_fast_path(monkeypatch, spy):
    buffer = io.BytesIO()
    photo("RGBA").save(buffer, format="PNG")
    buffer.seek(0)
    fast = read_image(buffer, integers=True)
    monkeypatch.setattr(fastdecode, "_codec", lambda name: None)
    buffer.seek(0)
    assert_same(fast, read_image(buffer, integers=True))
    assert spy == ["PNG"]


CORPUS_FILES = sorted(p for p in CORPUS.rglob("*")
                      if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_public_corpus_files_match_pillow(path, monkeypatch):
    fast, slow = both_reads(path, monkeypatch, integers=True)
    assert_same(fast, slow)


def test_the_corpus_exercises_the_fast_path(monkeypatch, spy):
    for path in CORPUS_FILES:
        with contextlib.suppress(ImageReadError):
            read_image(path, integers=True)
    assert len(spy) >= 18  # of the corpus files above: interlaced, each PNG filter, EXIF...


def test_a_stream_that_cannot_seek_back_goes_to_pillow(monkeypatch, spy):
    class OneWay(io.BytesIO):
        """Seeks while Pillow opens the file, then refuses, as a pipe would."""

        opened = False

        def seek(self, *args):
            if self.opened:
                raise io.UnsupportedOperation("seek")
            return super().seek(*args)

    buffer = io.BytesIO()
    photo("RGB").save(buffer, format="PNG")
    stream = OneWay(buffer.getvalue())
    real_open = fastdecode.file_bytes

    def after_open(source):
        source.opened = True
        return real_open(source)

    monkeypatch.setattr(fastdecode, "file_bytes", after_open)
    with pytest.raises(ImageReadError):  # Pillow cannot read it back either: one clear error
        read_image(stream, integers=True)
    assert spy == []
