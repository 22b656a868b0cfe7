"""Batch runs in the library: input expansion, output names, clashes, the worker pool."""

import os
import signal
import tempfile
from dataclasses import dataclass

import pytest
from PIL import Image

from batchdata import make_photo_folder
from convtool.batch import (
    expand_inputs,
    output_name,
    plan_batch,
    run_batch,
)
from convtool.errors import ImageReadError, UsageError
from convtool.kernels import gaussian_kernel
from convtool.pipeline import FilterJob, process_file


@pytest.fixture
def photos(tmp_path, samples):
    return make_photo_folder(tmp_path, samples)


@pytest.fixture
def job():
    return FilterJob(gaussian_kernel(1.5))


def names(found):
    return [(f.name, f.skip is not None) for f in found]


def test_expand_folder_skips_non_images_and_sub_folders(photos):
    found = list(expand_inputs([photos["folder"]]))
    assert ("notes.txt", True) in names(found)
    assert ("broken.png", False) in names(found)  # an image by its name: tried, not skipped
    assert not any(f.name.startswith("sub") for f in found)
    assert sum(f.skip is None for f in found) == 31


def test_expand_recursive_keeps_relative_names(photos):
    found = list(expand_inputs([photos["folder"]], recursive=True))
    assert ("sub/deep0.png", False) in names(found)
    assert [f.name for f in found] == sorted(f.name for f in found)


def test_expand_include_exclude_and_patterns(photos):
    folder = photos["folder"]
    found = list(expand_inputs([folder], include=["img00*"], exclude=["*3.png"]))
    assert [f.name for f in found] == [f"img00{i}.png" for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]
    found = list(expand_inputs([str(folder / "img01?.png"), folder / "sub"]))
    assert [f.name for f in found] == [f"img01{i}.png" for i in range(10)] + [
        "deep0.png", "deep1.png", "deep2.png"]


def test_expand_named_text_file_is_tried_not_skipped(photos):
    (found,) = expand_inputs([photos["text"]])
    assert found.skip is None


@pytest.mark.parametrize("path, message", [
    ("nothing-here", "no such file or folder"),
    ("nothing-*.png", "no input files"),
])
def test_expand_refuses_missing_inputs(tmp_path, path, message):
    with pytest.raises(ImageReadError, match=message):
        list(expand_inputs([str(tmp_path / path)]))


def test_expand_does_not_enter_the_output_folder(photos):
    out = photos["folder"] / "out"
    out.mkdir()
    Image.new("L", (4, 4)).save(out / "old.png")
    found = list(expand_inputs([photos["folder"]], recursive=True, avoid=[out]))
    assert not any(f.name.startswith("out/") for f in found)


@pytest.mark.parametrize("name, suffix, fmt, expected", [
    ("a.png", "", None, "a.png"),
    ("trip/beach.jpg", "_blur", "png", "trip/beach_blur.png"),
    ("scan.TIF", "", "jpeg", "scan.jpg"),
    ("x.webp", "_s", "tiff", "x_s.tif"),
])
def test_output_name(name, suffix, fmt, expected):
    assert output_name(name, suffix=suffix, format=fmt) == expected


def test_plan_refuses_two_inputs_with_one_output_naming_both(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / folder / "same.png")
    with pytest.raises(UsageError) as info:
        plan_batch([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    message = str(info.value)
    assert os.path.join(str(tmp_path / "a"), "same.png") in message
    assert os.path.join(str(tmp_path / "b"), "same.png") in message
    assert not (tmp_path / "out").exists()


def test_plan_refuses_format_change_clash(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "x.png")
    Image.new("L", (4, 4)).save(tmp_path / "x.tif")
    with pytest.raises(UsageError, match="would both be written to"):
        plan_batch([tmp_path], tmp_path / "out", format="jpg")


def test_plan_refuses_to_overwrite_an_input(photos):
    with pytest.raises(UsageError, match="would replace the input"):
        plan_batch([photos["folder"]], photos["folder"])


def test_plan_takes_a_file_reached_twice_once(photos):
    plan = plan_batch([photos["folder"], photos["images"][0]], photos["folder"].parent / "out")
    assert [s for s, _ in plan.items].count(str(photos["images"][0])) == 1


def test_plan_skip_existing(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    Image.new("L", (4, 4)).save(out / "img000.png")
    plan = plan_batch([photos["folder"]], out, skip_existing=True)
    skipped = {r.source: r.error for r in plan.skipped}
    assert skipped[str(photos["images"][0])] == "the output already exists"
    assert "not an image" in skipped[str(photos["text"])]
    assert len(plan.items) == 30  # 29 images and the corrupt one


def test_run_matches_single_file_runs_and_reports_the_corrupt_file(photos, tmp_path, job):
    out = tmp_path / "out"
    plan = plan_batch([photos["folder"]], out, recursive=True)
    seen = []
    report = run_batch(job, plan.items, jobs=1, on_result=seen.append, skipped=plan.skipped)
    assert len(seen) == len(plan.items) == 34
    assert not report.interrupted
    (failed,) = report.failed
    assert failed.source == str(photos["corrupt"]) and "cannot decode" in failed.error
    assert report.count("done") == 33 and report.count("skipped") == 1
    assert not (out / "broken.png").exists()
    for image in photos["images"][::7]:
        single = tmp_path / "single.png"
        process_file(job, image, single)
        target = out / image.relative_to(photos["folder"])
        assert target.read_bytes() == single.read_bytes()


def snapshot(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_two_workers_give_the_same_bytes_as_one_and_leave_inputs_alone(photos, tmp_path, job):
    before = snapshot(photos["folder"])
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = tmp_path / f"out{jobs}"
        plan = plan_batch([photos["folder"]], outs[jobs], recursive=True)
        report = run_batch(job, plan.items, jobs=jobs)
        assert report.count("done") == 33 and len(report.failed) == 1
        assert [r.source for r in report.results] == [s for s, _ in plan.items]
    files = sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*.png"))
    assert files == sorted(p.relative_to(outs[2]) for p in outs[2].rglob("*.png"))
    for name in files:
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes()
    assert snapshot(photos["folder"]) == before


@dataclass(frozen=True)
class CrashingJob(FilterJob):
    """Kills its worker outright half-way through writing a 13 x 13 image."""

    crash_dir: str = ""

    def method_for(self, shape, dtype="float32"):
        if shape[:2] == (13, 13):
            fd, _ = tempfile.mkstemp(prefix=".convtool-", suffix=".tmp", dir=self.crash_dir)
            os.write(fd, b"half an image")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().method_for(shape, dtype)


def test_a_killed_worker_fails_only_its_file_and_leaves_no_partial_file(photos, tmp_path):
    poison = photos["folder"] / "img005.png"
    Image.new("RGB", (13, 13), "red").save(poison)
    out = tmp_path / "out"
    out.mkdir()
    old_temp = out / ".convtool-older.tmp"  # from an earlier killed run: not ours to delete
    old_temp.write_bytes(b"x")
    job = CrashingJob(gaussian_kernel(1.0), crash_dir=str(out))
    plan = plan_batch([photos["folder"]], out)
    report = run_batch(job, plan.items, jobs=2)
    by_source = {r.source: r for r in report.results}
    assert by_source[str(poison)].status == "failed"
    assert "killed (SIGKILL)" in by_source[str(poison)].error
    assert len(report.failed) == 2  # the poison and the corrupt file
    assert report.count("done") == 29
    assert sorted(p.name for p in out.glob(".convtool-*")) == [old_temp.name]
    assert not (out / "img005.png").exists()
    for source, target in plan.items:
        if by_source[source].status == "done":
            with Image.open(target) as im:
                im.load()


def test_jobs_must_be_positive(job):
    with pytest.raises(UsageError, match="jobs must be a whole number >= 1"):
        run_batch(job, [], jobs=0)


def test_run_creates_sub_folders_and_reports_unwritable_outputs(photos, tmp_path, job):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    items = [(photos["images"][0], blocked / "x.png"), (photos["images"][1], tmp_path / "a/b.png")]
    report = run_batch(job, items, jobs=1)
    assert [r.status for r in report.results] == ["failed", "done"]
    assert str(blocked) in report.results[0].error
