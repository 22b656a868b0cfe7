"""The Executor interface: pluggable executors, picklable work, tracebacks from workers."""

import json
import os
import pickle
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from batchdata import BuggyJob, make_photo_folder
from convtool.batch import (
    BatchReport,
    Executor,
    FileResult,
    RunSpec,
    WorkItem,
    plan_batch,
    run_batch,
    run_item,
)
from convtool.cli import app
from convtool.kernels import gaussian_kernel, mean_kernel
from convtool.pipeline import FilterJob


@pytest.fixture
def photos(tmp_path, samples):
    return make_photo_folder(tmp_path, samples, count=4)


class ReversedExecutor(Executor):
    """Runs the items in this process, last first: a stand-in for a remote executor."""

    def __init__(self):
        self.items, self.started, self.closed = [], None, False

    def start(self, spec, count):
        # What a remote executor would receive: it must survive pickling.
        self.started = (pickle.loads(pickle.dumps(spec)), count)

    def submit(self, item):
        self.items.append(pickle.loads(pickle.dumps(item)))

    def results(self) -> Iterator:
        spec = self.started[0]
        while self.items:
            item = self.items.pop()
            yield item, pickle.loads(pickle.dumps(run_item(spec, item)))

    def cancel(self):
        self.items.clear()
        return []

    def close(self):
        self.closed = True


def test_a_custom_executor_plugs_into_run_batch(photos, tmp_path):
    plan = plan_batch([photos["sub"]], tmp_path / "out")
    executor, seen = ReversedExecutor(), []
    report = run_batch(FilterJob(mean_kernel(3)), plan.items, executor=executor,
                       on_result=seen.append)
    assert executor.started[1] == len(plan.items) == 3
    assert executor.closed
    assert [r.status for r in report.results] == ["done"] * 3
    assert [r.source for r in report.results] == [s for s, _ in plan.items]  # plan order
    assert [r.source for r in seen] == [s for s, _ in reversed(plan.items)]  # completion order
    assert all(os.path.exists(t) for _, t in plan.items)


def test_work_items_and_results_are_small_and_picklable(tmp_path):
    item = WorkItem(7, "in/a.png", "out/a.png")
    assert pickle.loads(pickle.dumps(item)) == item
    assert len(pickle.dumps(item)) < 200
    result = FileResult("a", "b", (3, 4, 3), "direct", 0.5, error_params=("channels",))
    assert pickle.loads(pickle.dumps(result)) == result
    spec = RunSpec(FilterJob(gaussian_kernel(2.0)), format="png")
    assert pickle.loads(pickle.dumps(spec)).job.kernel.shape == (17, 17)


def test_worker_tracebacks_travel_back_with_the_result(photos, tmp_path):
    plan = plan_batch([photos["sub"]], tmp_path / "out")
    report = run_batch(BuggyJob(mean_kernel(3)), plan.items, jobs=2)
    assert [r.status for r in report.results] == ["failed"] * 3
    for r in report.results:
        assert "internal error: RuntimeError: planted bug in the worker" in r.error
        assert r.traceback.startswith("Traceback")
        assert "method_for" in r.traceback and "planted bug" in r.traceback
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_expected_failures_carry_no_traceback_but_their_parameters(photos, tmp_path):
    plan = plan_batch([photos["sub"]], tmp_path / "out")
    report = run_batch(FilterJob(mean_kernel(3), channels="a"), plan.items, jobs=1)
    for r in report.results:
        assert r.status == "failed"
        assert r.traceback is None
        assert r.error_params == ("channels",)


@pytest.fixture
def bug_in_filter(monkeypatch):
    import convtool.pipeline.job

    def apply_job(job, image):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(convtool.pipeline.job, "apply_job", apply_job)


@pytest.mark.parametrize("debug", [False, True])
def test_debug_shows_batch_tracebacks(photos, tmp_path, bug_in_filter, debug):
    argv = ["blur", "-s1", str(photos["sub"]), "--out-dir", str(tmp_path / "out"), "--jobs", "1",
            "-q"]
    result = CliRunner().invoke(app, ["--debug", *argv] if debug else argv)
    assert result.exit_code == 1
    assert result.stderr.count("internal error: RuntimeError: planted bug") == 3
    assert ("Traceback (most recent call last)" in result.stderr) == debug
    if debug:
        assert result.stderr.count('raise RuntimeError("planted bug")') == 3


def test_channel_errors_in_batch_name_the_flag(photos, tmp_path):
    result = CliRunner().invoke(app, ["blur", "-s", "1", str(photos["sub"]), "--out-dir",
                                      str(tmp_path / "out"), "--channels", "a", "-q"])
    assert result.exit_code == 1
    assert "--channels 'a': an image of mode RGB has no 'a' channel" in result.stderr


def test_report_to_dict_is_the_json_schema(photos, tmp_path):
    ok = FileResult("a.png", "out/a.png", (2, 2, 3), "direct", 0.1234567)
    bad = FileResult("b.png", "out/b.png", (), "", 0.0, "failed", "b.png: broken")
    skipped = FileResult("c.txt", "", (), "", 0.0, "skipped", "not an image")
    data = BatchReport([skipped, ok, bad], 1.23456).to_dict()
    assert data["summary"] == {"done": 1, "skipped": 1, "failed": 1, "interrupted": 0,
                               "seconds": 1.235}
    assert data["files"][0] == {"input": "c.txt", "output": None, "status": "skipped",
                                "error": "not an image", "seconds": 0.0}
    assert data["files"][1]["seconds"] == 0.123457
    json.dumps(data)  # plain JSON types only


def test_cli_json_is_the_report_dict(photos, tmp_path):
    result = CliRunner().invoke(app, ["mean", str(photos["sub"]), "--out-dir",
                                      str(tmp_path / "out"), "--json", "-q", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"summary", "files"}
    assert data["summary"]["done"] == 3
    assert [f["status"] for f in data["files"]] == ["done"] * 3


def test_a_worker_leaving_its_loop_ignores_sigterm_from_then_on():
    """A SIGTERM between the end of a worker's loop and its exit must not print a traceback.

    (Seen in CI: the group's SIGTERM reached a worker that had just been told to stop, and
    ``_Stopped`` escaped from multiprocessing's bootstrap.)
    """
    import signal

    from convtool.batch import local

    class Done:
        def recv(self):
            return None  # the parent says: no more files

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        local._worker_main(Done(), None)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
