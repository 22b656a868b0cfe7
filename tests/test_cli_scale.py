"""--memory, --tiles and --scheduler on the command line."""

import importlib.util

import numpy as np
import pytest
from typer.testing import CliRunner

from convtool.cli import app

tifffile = pytest.importorskip("tifffile")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def tiff(tmp_path, rng):
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, (rng.random((60, 70, 3)) * 256).astype(np.uint8), tile=(16, 16),
                     photometric="rgb")
    return path


@pytest.mark.parametrize("command", [["blur", "--sigma", "3"], ["mean", "--size", "4"],
                                     ["edges"], ["sharpen", "--sigma", "1.5"],
                                     ["convolve", "-k", "emboss", "--bias", "0.5"]])
def test_tiles_give_the_in_memory_result(tiff, tmp_path, command):
    name, *options = command
    memory = run(name, tiff, tmp_path / "ref.tif", *options)
    tiled = run(name, tiff, tmp_path / "tiled.tif", *options, "--tiles", 16, "--mode", "reflect")
    assert memory.exit_code == 0 and tiled.exit_code == 0, memory.output + tiled.output
    expected = tifffile.imread(tmp_path / "ref.tif")
    with tifffile.TiffFile(tmp_path / "tiled.tif") as tif:
        assert tif.is_bigtiff and tif.pages[0].is_tiled
        got = tif.asarray()
    assert np.array_equal(got, expected)


def test_a_memory_budget_too_small_for_the_image_asks_for_a_tiff(tiff, tmp_path):
    result = run("blur", "-s", "1", tiff, tmp_path / "out.png", "--memory", "20kB")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "write a .tif output" in result.output


def test_a_bad_memory_size_is_one_line(tiff, tmp_path):
    result = run("blur", "-s", "1", tiff, tmp_path / "out.tif", "--memory", "lots")
    assert result.exit_code == 2
    assert result.output.strip() == ("convtool: error: --memory 'lots': not a size; write a "
                                     "number of bytes with an optional unit, e.g. 2GB, 512MB "
                                     "or 1.5GiB")


@pytest.mark.parametrize("flag", [["--tiles", "64"], ["--memory", "1GB"],
                                  ["--scheduler", "tcp://127.0.0.1:9"]])
@pytest.mark.parametrize("batch", [False, True])
def test_flags_without_the_extra_name_it(tiff, tmp_path, monkeypatch, flag, batch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dask" else real(name, *a))
    paths = [tmp_path, "--out-dir", tmp_path / "o"] if batch else [tiff, tmp_path / "out.tif"]
    result = run("blur", "-s", "1", *paths, *flag)
    assert result.exit_code == 2
    assert result.output.strip().endswith("pip install 'convtool[dask]'")
    assert result.output.count("\n") == 1
    # Without the flags the extra is not needed.
    assert run("blur", "-s", "1", tiff, tmp_path / "out.tif").exit_code == 0


def test_tiles_refuse_stdio_and_the_input_as_output(tiff, tmp_path):
    result = run("blur", "-s", "1", tiff, "-", "--tiles", "16", "--format", "tiff")
    assert result.exit_code == 2 and "stdin/stdout" in result.output
    before = tiff.read_bytes()
    result = run("blur", "-s", "1", tiff, tiff, "--tiles", "16")
    assert result.exit_code == 2 and "--in-place" in result.output
    assert tiff.read_bytes() == before
    assert run("blur", "-s", "1", tiff, tiff, "--tiles", "16", "--in-place").exit_code == 0
    assert tiff.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["in.tif"]


@pytest.fixture
def small_pillow_limit(monkeypatch):
    """Pillow's limit at 1,000 pixels, so 60x70 images stand in for 90-megapixel ones."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)


def test_max_pixels_lets_a_large_tiled_tiff_through(tiff, tmp_path, small_pillow_limit):
    # Pillow re-checks a tiled TIFF's size against its own global limit while loading:
    # this was refused as a "damaged TIFF" even with the user's higher limit.
    result = run("blur", "-s", "1", tiff, tmp_path / "o.png", "--max-pixels", 5000)
    assert result.exit_code == 0, result.output
    result = run("blur", "-s", "1", tiff, tmp_path / "o2.png", "--max-pixels", 4000)
    assert result.exit_code == 1 and "--max-pixels 4200" in result.output


@pytest.mark.parametrize("flags", [[], ["--tiles", 16]])
def test_the_user_limit_holds_on_both_paths(tiff, tmp_path, flags):
    result = run("blur", "-s", "1", tiff, tmp_path / "o.tif", "--max-pixels", 4000, *flags)
    assert result.exit_code == 1 and "more than the limit of 4,000" in result.output
    assert not (tmp_path / "o.tif").exists()


def test_the_default_limit_is_the_memory_budget_for_tiffs(tmp_path, small_pillow_limit,
                                                          monkeypatch):
    from PIL import Image

    # A TIFF read by region: its memory is bounded by --memory, in memory or in tiles.
    # 600x640: by the model 14 MB in memory (as float32: wrap is not filtered in bands of
    # 8-bit rows), tiles of 6 MB.
    tiff = tmp_path / "wide.tif"
    tifffile.imwrite(tiff, (np.random.default_rng(1).random((600, 640, 3)) * 256).astype(
        np.uint8), tile=(64, 64), photometric="rgb")
    wrap = ["--mode", "wrap"]
    assert run("blur", "-s", "1", tiff, tmp_path / "mem.png", *wrap).exit_code == 0
    result = run("blur", "-s", "1", tiff, tmp_path / "tiles.tif", "--memory", "8MB", *wrap)
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(tmp_path / "tiles.tif") as tif:
        assert tif.pages[0].is_tiled  # filtered in tiles: over the budget in memory
    with monkeypatch.context() as m:
        m.setattr(Image, "MAX_IMAGE_PIXELS", None)
        in_memory = np.asarray(Image.open(tmp_path / "mem.png"))
        Image.fromarray(in_memory).save(tmp_path / "in.png")
    assert np.array_equal(tifffile.imread(tmp_path / "tiles.tif"), in_memory)
    # A PNG is decoded whole: Pillow's limit is its guard against decompression bombs.
    result = run("blur", "-s", "1", tmp_path / "in.png", tmp_path / "o.png")
    assert result.exit_code == 1 and "decompression bombs" in result.output


@pytest.fixture
def tiff_folder(tmp_path, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):  # 14 MB each in memory by the model; tiles of 6 MB
        tifffile.imwrite(folder / f"t{n}.tif", (rng.random((600 + n, 640, 3)) * 256).astype(
            np.uint8), tile=(16, 16), photometric="rgb", compression="lzw")
    return folder


def test_a_batch_of_large_images_goes_in_tiles(tiff_folder, tmp_path):
    wrap = ["--mode", "wrap"]  # float32 in memory: 14 MB a file by the model
    memory = run("blur", "-s", "2", tiff_folder, "--out-dir", tmp_path / "mem", "-j", 1, *wrap)
    tiled = run("blur", "-s", "2", tiff_folder, "--out-dir", tmp_path / "tiled", "--tiles", 128,
                "-j", 2, *wrap)
    # 16 MB shared between two workers: 8 MB a file.
    budget = run("blur", "-s", "2", tiff_folder, "--out-dir", tmp_path / "budget", "--memory",
                 "16MB", "-j", 2, *wrap)
    for result in (memory, tiled, budget):
        assert result.exit_code == 0, result.output
    for n in range(3):
        expected = tifffile.imread(tmp_path / "mem" / f"t{n}.tif")
        for folder in ("tiled", "budget"):
            with tifffile.TiffFile(tmp_path / folder / f"t{n}.tif") as tif:
                assert tif.is_bigtiff and tif.pages[0].is_tiled
                assert tif.pages[0].compression == tifffile.COMPRESSION.LZW
                assert np.array_equal(tif.asarray(), expected)


def test_a_batch_in_tiles_refuses_non_tiff_outputs_before_any_work(tiff_folder, tmp_path):
    result = run("blur", "-s", "2", tiff_folder, "--out-dir", tmp_path / "o", "--tiles", 16,
                 "--format", "png")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "add --format tiff" in result.output
    assert not (tmp_path / "o").exists()
    result = run("blur", "-s", "2", tiff_folder, "--out-dir", tmp_path / "p", "--memory", "8MB",
                 "--format", "png", "--mode", "wrap")
    assert result.exit_code == 1
    assert result.output.count("write a .tif output to filter it in tiles") >= 3


def test_tiles_take_the_chosen_compression(tiff, tmp_path):
    result = run("blur", "-s", "1", tiff, tmp_path / "o.tif", "--tiles", 16, "--compression",
                 "zstd")
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ZSTD
    result = run("blur", "-s", "1", tiff, tmp_path / "j.tif", "--tiles", 16, "--compression",
                 "jpeg")
    assert result.exit_code == 2 and "not available in tiles" in result.output
    assert not (tmp_path / "j.tif").exists()


def test_tiles_follow_the_two_path_overwrite_rule(tiff, tmp_path):
    out = tmp_path / "o.tif"
    for flags in (["--tiles", 16], ["--tiles", 16], []):  # convtool's own output is replaced
        result = run("blur", "-s", "1", tiff, out, *flags)
        assert result.exit_code == 0, result.output
    theirs = tmp_path / "theirs.tif"
    theirs.write_bytes(tiff.read_bytes())
    result = run("blur", "-s", "1", tiff, theirs, "--tiles", 16)
    assert result.exit_code == 2 and "convtool did not write it" in result.output
    assert theirs.read_bytes() == tiff.read_bytes()
    assert run("blur", "-s", "1", tiff, theirs, "--tiles", 16, "--overwrite").exit_code == 0
    assert theirs.read_bytes() != tiff.read_bytes()
