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
                                     ["edges"], ["sharpen", "--sigma", "1.5"]])
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


def test_flags_without_the_extra_name_it(tiff, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dask" else real(name, *a))
    result = run("blur", "-s", "1", tiff, tmp_path / "out.tif", "--tiles", "64")
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
