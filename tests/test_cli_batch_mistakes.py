"""Mistakes a newcomer makes with many files (issue 13): predictable codes, tailored hints."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from convtool.cli import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("convtool: error:")]


@pytest.fixture
def folder(tmp_path):
    """Three small PNGs, a macOS AppleDouble file and a hidden folder with one more PNG."""
    root = tmp_path / "in"
    (root / ".cache").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (8, 8), (40 * i, 90, 200)).save(root / f"p{i}.png")
    (root / "._p0.png").write_bytes(b"\x00\x05\x16\x07AppleDouble, not a PNG")
    Image.new("L", (8, 8)).save(root / ".cache" / "thumb.png")
    return root


def test_out_dir_that_cannot_be_created_is_one_error_before_any_work(folder, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder would go")
    result = run("blur", folder, "--sigma", "1", "--out-dir", blocker / "sub", "-j", "1")
    assert result.exit_code in (1, 2)
    (line,) = errors(result)
    assert str(blocker / "sub") in line
    assert len(result.stderr.strip().splitlines()) == 1


def test_include_matching_nothing_and_glob_matching_nothing_both_say_no_input_files(folder,
                                                                                    tmp_path):
    by_include = run("blur", folder, "--sigma", "1", "--out-dir", tmp_path / "o",
                     "--include", "*.jpg")
    by_glob = run("blur", folder / "*.jpg", "--sigma", "1", "--out-dir", tmp_path / "o")
    for result in (by_include, by_glob):
        assert result.exit_code == 1, result.output
        (line,) = errors(result)
        assert "no input files" in line
    assert not (tmp_path / "o").exists()


def test_a_folder_without_out_dir_is_a_usage_mistake(folder, tmp_path):
    result = run("blur", folder, tmp_path / "o.png", "--sigma", "1")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert "--out-dir" in line


def same_name_in_two_folders(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / name / "same.png")
    return tmp_path / "a", tmp_path / "b"


def test_clash_hint_does_not_offer_options_that_cannot_help(tmp_path):
    a, b = same_name_in_two_folders(tmp_path)
    result = run("blur", a, b, "--sigma", "1", "--out-dir", tmp_path / "o", "-r",
                 "--suffix", "_x")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert "would both be written" in line
    assert "use --recursive" not in line and "a --suffix" not in line
    # Two folders given by name: only separate runs (or renaming) can part them.
    assert "separate" in line or "rename" in line


def test_clash_from_format_names_the_format(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "x.png")
    Image.new("L", (4, 4)).save(tmp_path / "x.tif")
    result = run("blur", tmp_path / "x.png", tmp_path / "x.tif", "--sigma", "1",
                 "--out-dir", tmp_path / "o", "--format", "jpg")
    assert result.exit_code == 2
    (line,) = errors(result)
    assert "--format" in line
    assert "--recursive" not in line


def test_hidden_files_and_folders_are_skipped_in_folder_walks(folder, tmp_path):
    out = tmp_path / "o"
    result = run("blur", folder, "--sigma", "1", "--out-dir", out, "-r", "--json", "-q")
    assert result.exit_code == 0, result.output
    inputs = {r["input"] for r in json.loads(result.stdout)["files"]}
    assert str(folder / "._p0.png") not in inputs
    assert str(folder / ".cache" / "thumb.png") not in inputs
    assert sorted(p.name for p in out.rglob("*.png")) == ["p0.png", "p1.png", "p2.png"]


def test_hidden_flag_takes_dot_files_too(folder, tmp_path):
    out = tmp_path / "o"
    result = run("blur", folder, "--sigma", "1", "--out-dir", out, "-r", "--hidden", "--json",
                 "-q")
    assert result.exit_code == 1  # the AppleDouble file is tried, and fails
    records = {r["input"]: r["status"] for r in json.loads(result.stdout)["files"]}
    assert records[str(folder / "._p0.png")] == "failed"
    assert records[str(folder / ".cache" / "thumb.png")] == "done"


def test_a_hidden_file_named_directly_is_tried(folder, tmp_path):
    result = run("blur", folder / ".cache" / "thumb.png", "--sigma", "1",
                 "--out-dir", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "thumb.png").exists()


def test_verbose_batch_prints_kernel_and_method_once(folder, tmp_path):
    result = run("blur", folder, "--sigma", "2", "--out-dir", tmp_path / "o", "-v", "-j", "1")
    assert result.exit_code == 0, result.output
    kernel_lines = [line for line in result.stderr.splitlines() if "17x17" in line]
    assert len(kernel_lines) == 1, result.stderr
    assert "method" in kernel_lines[0] and "gaussian" in kernel_lines[0]
