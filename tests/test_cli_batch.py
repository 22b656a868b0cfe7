"""Batch runs from the command line: --out-dir, folders, summary, JSON, Ctrl-C."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdata import make_photo_folder
from convtool.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def photos(tmp_path, samples):
    return make_photo_folder(tmp_path, samples)


def test_folder_run_writes_every_image_and_reports_the_corrupt_one(photos, tmp_path):
    out = tmp_path / "out"
    result = run("blur", photos["folder"], "--out-dir", out, "--sigma", "2", "-r", "-j", "1")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("convtool: error:")]
    assert len(errors) == 1
    assert str(photos["corrupt"]) in errors[0] and "cannot decode" in errors[0]
    assert "33 done, 1 skipped, 1 failed" in result.stderr
    for image in photos["images"]:
        assert (out / image.relative_to(photos["folder"])).exists()
    assert not (out / "broken.png").exists() and not (out / "notes.txt").exists()
    # Spot-check against single-file runs: the same bytes.
    for image in photos["images"][::10]:
        single = tmp_path / "single.png"
        assert run("blur", image, single, "--sigma", "2").exit_code == 0
        assert (out / image.relative_to(photos["folder"])).read_bytes() == single.read_bytes()


def test_plain_progress_is_one_line_per_file_on_stderr(photos, tmp_path):
    result = run("mean", photos["sub"], "--out-dir", tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "3 done, 0 skipped, 0 failed" in lines[3]
    assert result.stdout == ""


def test_quiet_prints_only_failures(photos, tmp_path):
    result = run("mean", photos["folder"], "--out-dir", tmp_path / "out", "-q", "-j", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"convtool: error: {photos['corrupt']}: cannot decode image (Truncated File Read)"]


def test_json_report_has_one_record_per_file(photos, tmp_path):
    out = tmp_path / "out"
    result = run("blur", "-s", "1", photos["folder"], "--out-dir", out, "--json", "-q", "-j", "2")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["summary"] == {**report["summary"], "done": 30, "skipped": 1, "failed": 1,
                                 "interrupted": 0}
    records = {r["input"]: r for r in report["files"]}
    assert len(records) == 32
    assert set(records[str(photos["images"][0])]) == {"input", "output", "status", "error",
                                                      "seconds"}
    assert records[str(photos["images"][0])]["output"] == str(out / "img000.png")
    assert records[str(photos["corrupt"])]["status"] == "failed"
    assert records[str(photos["text"])] == {**records[str(photos["text"])],
                                            "status": "skipped", "output": None}


def test_skip_existing_does_no_work_on_a_second_run(photos, tmp_path):
    out = tmp_path / "out"
    assert run("mean", photos["sub"], "--out-dir", out, "-j", "1").exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    result = run("mean", photos["sub"], "--out-dir", out, "--skip-existing", "--json")
    assert result.exit_code == 0
    assert [r["status"] for r in json.loads(result.stdout)["files"]] == ["skipped"] * 3
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == stamps


def test_suffix_format_and_globs(photos, tmp_path):
    out = tmp_path / "out"
    pattern = str(photos["folder"] / "img00[12].png")
    result = run("blur", "-s", "1", pattern, photos["sub"] / "deep0.png", "--out-dir", out,
                 "--suffix", "_blur", "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "deep0_blur.jpg", "img001_blur.jpg", "img002_blur.jpg"]
    with Image.open(out / "img001_blur.jpg") as im:
        assert im.format == "JPEG"


def test_collisions_are_refused_before_any_work(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / folder / "same.png")
    out = tmp_path / "out"
    result = run("blur", "-s", "1", tmp_path / "a", tmp_path / "b", "--out-dir", out)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("convtool: error:")
    assert str(tmp_path / "a" / "same.png") in line and str(tmp_path / "b" / "same.png") in line
    assert not out.exists()


def test_dry_run_prints_the_plan_and_writes_nothing(photos, tmp_path):
    out = tmp_path / "out"
    result = run("blur", "-s", "1", photos["sub"], "--out-dir", out, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{photos['sub'] / f'deep{i}.png'} -> {out / f'deep{i}.png'}" for i in range(3)]
    assert not out.exists()


@pytest.mark.parametrize("args, code, message", [
    (["blur", "-s", "1", "{a}", "{b}", "{c}"], 2, "expected INPUT and OUTPUT, got 3 path(s)"),
    (["blur", "-s", "1", "{folder}", "{c}"], 2, "is a folder"),
    (["blur", "-s1", "{a}", "{c}", "--recursive"], 2, "--recursive only applies with --out-dir"),
    (["blur", "-s1", "{a}", "{c}", "--suffix", "_x"], 2, "--suffix only applies with --out-dir"),
    (["blur", "-s", "1", "{folder}", "--out-dir", "{out}", "--jobs", "0"], 2, "--jobs must be"),
    (["blur", "-s", "1", "--out-dir", "{out}"], 2, "Missing argument"),
    (["blur", "-s", "1", "{folder}/nope*.png", "--out-dir", "{out}"], 1, "no input files"),
    (["blur", "-s", "1", "{folder}", "--out-dir", "{a}"], 2, "exists and is not a folder"),
    (["blur", "-s", "1", "{folder}", "--out-dir", "{folder}"], 2, "would replace the input"),
    (["blur", "-s1", "{folder}", "--out-dir", "{out}", "--format", "xyz"], 2,
     "unknown output format"),
])
def test_usage_errors_are_one_line(photos, tmp_path, args, code, message):
    files = {"a": photos["images"][0], "b": photos["images"][1], "c": tmp_path / "c.png",
             "folder": photos["folder"], "out": tmp_path / "out"}
    result = run(*[a.format(**files) for a in args])
    assert result.exit_code == code, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("convtool: error:") and message in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "c.png").exists()


def test_more_than_two_paths_suggest_out_dir(photos, tmp_path):
    result = run("blur", "-s", "1", photos["images"][0], photos["images"][1], tmp_path / "c.png")
    assert "add --out-dir DIR" in result.stderr


def slow_inputs(root, samples, count=40):
    """Images that take a while each with a big non-separable kernel, so Ctrl-C lands mid-run."""
    folder = root / "slow"
    folder.mkdir()
    with Image.open(samples / "astronaut.png") as im:
        small = im.resize((160, 160))
    for i in range(count):
        small.save(folder / f"s{i:02d}.png")
    kernel = root / "k.npy"
    np.save(kernel, np.random.default_rng(1).random((41, 41)))
    return folder, kernel


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path, samples, jobs):
    folder, kernel = slow_inputs(tmp_path, samples)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "convtool", "convolve", str(folder), "--out-dir", str(out),
           "-k", str(kernel), "--normalize", "sum", "--method", "direct", "--jobs", jobs]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait for the first finished file (the run is then surely under way), then interrupt.
        for line in proc.stderr:
            if "->" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert rest == ""  # nothing on stdout
    assert "interrupted:" in stderr and "not done" in stderr
    assert "Traceback" not in stderr
    assert list(out.glob(".convtool-*")) == []
    written = sorted(out.iterdir())
    assert 1 <= len(written) < 40
    for path in written:
        with Image.open(path) as im:
            im.load()  # complete images only
    done = int(stderr.split(" done,")[0].rsplit("\n", 1)[-1].split()[-1])
    # A file renamed into place just as the stop came may be counted as not done.
    assert done <= len(written) <= done + int(jobs)
    # The files not done are named (up to ten), each an input of the run.
    named = [line.split("not done: ", 1)[1] for line in stderr.splitlines()
             if line.startswith("convtool: not done: ")]
    assert 1 <= len(named) <= 10
    assert all(pathlib.Path(name).parent == folder for name in named)
    assert len(named) == 10 or "... and" not in stderr


def test_single_file_default_overwrites_and_skip_existing_keeps(samples, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    assert run("blur", "-s", "1", samples / "camera.png", out, "--skip-existing").exit_code == 0
    assert out.read_bytes() == b"old"
    assert run("blur", "-s", "1", samples / "camera.png", out, "--overwrite").exit_code == 0
    assert out.read_bytes() != b"old"
    assert os.path.getsize(out) > 1000


def test_leftover_temp_files_are_left_alone_and_mentioned(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    leftover = out / ".convtool-abc123.tmp"
    leftover.write_bytes(b"half")
    result = run("mean", photos["sub"], "--out-dir", out)
    assert result.exit_code == 0
    assert "temporary file(s) from an earlier run" in result.stderr
    assert leftover.read_bytes() == b"half"


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    from convtool.cli.progress import progress
    from convtool.pipeline import FileResult

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress(2, quiet=False) as on_result:
        for name in ("a", "b"):
            on_result(FileResult(name, name, (1, 1, 1), "direct", 0.1))
    captured = capsys.readouterr()
    assert "2/2" in captured.err
    assert captured.out == ""
