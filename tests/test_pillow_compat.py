"""The Pillow private API that convtool.imaging._pillow_compat relies on, against this Pillow.

These tests fail with a message naming the attribute and the Pillow version
when an upgrade of Pillow changes what the fence assumes; the fix then goes in
``src/convtool/imaging/_pillow_compat.py`` and nowhere else.
"""

import pathlib
import re

import numpy as np
import PIL
import pytest
from PIL import Image

from convtool.imaging import _pillow_compat as compat

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "convtool"
FENCE = "src/convtool/imaging/_pillow_compat.py"


def fence(ok: bool, what: str) -> None:
    if not ok:
        pytest.fail(f"Pillow {PIL.__version__} changed {what}; convtool relies on it in {FENCE}",
                    pytrace=False)


@pytest.fixture
def rotated_tiff(tmp_path):
    """A 30x10 greyscale TIFF tagged orientation 6 (shown turned by 90 degrees)."""
    data = np.arange(300, dtype=np.uint8).reshape(10, 30)
    path = tmp_path / "rotated.tif"
    Image.fromarray(data).save(path, tiffinfo={compat.ORIENTATION: 6})
    return path, data


def test_tiff_private_attributes_are_there(rotated_tiff):
    path, _ = rotated_tiff
    with Image.open(path) as im:
        for attr in compat.TIFF_PRIVATE_ATTRIBUTES:
            fence(hasattr(im, attr), f"TiffImageFile.{attr} (it is gone)")
        fence(im._tile_size == (30, 10), f"TiffImageFile._tile_size (got {im._tile_size!r}, "
              "expected the stored size (30, 10))")
        fence(im.size == (10, 30), f"how a TIFF with orientation 6 opens (size {im.size}, "
              "expected Pillow to swap it to (10, 30)); the workaround may be unneeded now")


def test_keep_tiff_layout_keeps_the_stored_pixels(rotated_tiff):
    path, data = rotated_tiff
    with Image.open(path) as im:
        compat.keep_tiff_layout(im)
        fence(im.size == (30, 10), f"TiffImageFile._size (setting it left size at {im.size})")
        im.load()
        fence(np.array_equal(np.asarray(im), data),
              "TIFF loading (pixels differ from the stored ones after keep_tiff_layout)")


@pytest.mark.parametrize(("mode", "expected"), [("RGB", "RGB"), ("I;16", ";16")])
def test_tile_args_give_the_raw_mode(tmp_path, mode, expected):
    path = tmp_path / "t.png"
    Image.new(mode, (3, 2)).save(path)
    with Image.open(path) as im:
        fence(bool(im.tile) and hasattr(im.tile[0], "args"), "ImageFile.tile[0].args")
        raw = compat.rawmode(im)
    fence(expected in raw, f"ImageFile.tile[0].args (raw mode {raw!r}, expected {expected!r})")


@pytest.mark.parametrize(("magic", "plain"), [(b"P6", False), (b"P3", True)])
def test_ppm_tile_gives_the_maximum_value_and_the_pixels_offset(tmp_path, magic, plain):
    header = magic + b"\n# a comment\n3 2\n65535\n"
    body = (b"1 2 3 " * 6) if plain else bytes(36)
    path = tmp_path / "t.ppm"
    path.write_bytes(header + body)
    with Image.open(path) as im:
        layout = compat.ppm_layout(im)
    fence(layout == (65535, len(header), plain),
          f"ImageFile.tile of a 16-bit PPM (got {layout!r}, expected "
          f"{(65535, len(header), plain)!r})")


def test_no_private_pillow_api_outside_the_fence():
    names = "|".join(re.escape(a) for a in compat.TIFF_PRIVATE_ATTRIBUTES)
    pattern = re.compile(rf"\bPIL\._|from PIL import _|\.({names})\b|\.tile\[")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.name != "_pillow_compat.py" and pattern.search(p.read_text())]
    assert offenders == []
