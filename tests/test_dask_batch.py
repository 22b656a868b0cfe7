"""Batches on a Dask cluster of this machine: a scheduler and two workers on 127.0.0.1.

Every socket of theirs must be on the loopback interface (a test checks it),
outputs must be byte-identical to the local run, and a corrupt file or a killed
worker must cost only that file's attempt.
"""

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

import daskcluster  # noqa: E402
from convtool import batch, imaging  # noqa: E402
from convtool.errors import UsageError  # noqa: E402
from convtool.kernels import Kernel, gaussian_kernel  # noqa: E402
from convtool.pipeline import FilterJob  # noqa: E402
from convtool.scale import dask_batch  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    address, client, procs = daskcluster.start(workers=2)
    try:
        yield address, client, procs
    finally:
        daskcluster.stop(client, procs)


@pytest.fixture
def photos(tmp_path, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(12):
        pixels = rng.random((24 + n, 31, 3)).astype(np.float32)
        imaging.write_image(imaging.Image(pixels=pixels, mode="RGB"), folder / f"p{n:02}.png")
    (folder / "p99.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # corrupt
    return folder


def run(job, folder, out, executor=None, **kwargs):
    plan = batch.plan_batch([str(folder)], str(out))
    return batch.run_batch(job, plan.items, jobs=2, executor=executor, **kwargs)


def test_every_socket_is_on_loopback(cluster, photos, tmp_path):
    address, _, procs = cluster
    run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "o",
        executor=dask_batch.DaskExecutor(address))  # so workers have talked to each other
    listening, ends = [], set()
    for p in procs:
        for proc in [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]:
            for c in proc.net_connections(kind="inet"):
                ends.add(c.laddr.ip)
                if c.raddr:
                    ends.add(c.raddr.ip)
                if c.status == psutil.CONN_LISTEN:
                    listening.append(c.laddr.ip)
    # scheduler, its dashboard, two nannies, two workers and their dashboards
    assert len(listening) >= 5
    assert ends == {"127.0.0.1"}


def test_outputs_are_byte_identical_to_the_local_run(cluster, photos, tmp_path):
    address, _, _ = cluster
    job = FilterJob(gaussian_kernel(1.5))
    local = run(job, photos, tmp_path / "local")
    remote = run(job, photos, tmp_path / "remote", executor=dask_batch.DaskExecutor(address))
    assert [r.status for r in remote.results] == [r.status for r in local.results]
    assert [r.source for r in remote.results] == [r.source for r in local.results]
    failed = [r for r in remote.results if r.status == "failed"]
    assert [Path(r.source).name for r in failed] == ["p99.png"]
    assert "p99.png" in failed[0].error
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "remote").iterdir())
    assert len(names) == 12
    for name in names:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_a_killed_worker_costs_only_an_attempt(cluster, tmp_path, rng):
    address, client, _ = cluster
    folder = tmp_path / "big"
    folder.mkdir()
    for n in range(4):
        pixels = rng.random((200, 200, 3)).astype(np.float32)
        imaging.write_image(imaging.Image(pixels=pixels, mode="RGB"), folder / f"b{n}.png")
    # A 25x25 kernel of rank 25, direct: a fraction of a second a file.
    job = FilterJob(Kernel(rng.random((25, 25)) / 300), method="direct")
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                time.sleep(0.2)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    executor = dask_batch.DaskExecutor(address, files_per_task=2)
    report = run(job, folder, tmp_path / "out", executor=executor)
    killer.join()
    assert killed
    assert [r.status for r in report.results] == ["done"] * 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"b{n}.png" for n in range(4)]


def test_another_convtool_version_is_refused(cluster, photos, tmp_path, monkeypatch):
    address, _, _ = cluster
    import convtool

    monkeypatch.setattr(convtool, "__version__", "0.0.0-other")
    with pytest.raises(UsageError, match=r"runs convtool \S+, this client 0\.0\.0-other"):
        run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "o",
            executor=dask_batch.DaskExecutor(address))
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_ctrl_c_stops_and_reports_the_rest(cluster, photos, tmp_path):
    address, _, _ = cluster
    seen = []

    def on_result(result):
        seen.append(result)
        if len(seen) == 1:
            raise KeyboardInterrupt

    executor = dask_batch.DaskExecutor(address, files_per_task=1, grace=10)
    report = run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "o", executor=executor,
                 on_result=on_result)
    assert report.interrupted
    assert any(r.status == "interrupted" for r in report.results)
    assert not list((tmp_path / "o").glob(".convtool-*"))


def test_an_unreachable_scheduler_is_one_line():
    with pytest.raises(UsageError, match="cannot connect"):
        dask_batch.connect(f"tcp://127.0.0.1:{daskcluster.free_port()}", timeout=1)


def test_one_image_s_tiles_on_the_cluster(cluster, tmp_path, rng):
    tifffile = pytest.importorskip("tifffile")
    from convtool import scale

    _, client, _ = cluster
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, (rng.random((50, 60, 3)) * 256).astype(np.uint8), tile=(16, 16),
                     photometric="rgb")
    job = FilterJob(gaussian_kernel(2.0), mode="wrap", method="direct")
    here = scale.filter_file(job, source, tmp_path / "here.tif", tiles=16)
    there = scale.filter_file(job, source, tmp_path / "there.tif", tiles=16, client=client)
    assert here.tiles == there.tiles == 16
    assert np.array_equal(tifffile.imread(tmp_path / "there.tif"),
                          tifffile.imread(tmp_path / "here.tif"))


def test_relative_paths_reach_the_workers_absolute(cluster, photos, tmp_path, monkeypatch):
    address, client, _ = cluster
    monkeypatch.chdir(tmp_path)
    plan = batch.plan_batch(["in"], "rel-out")
    report = batch.run_batch(FilterJob(gaussian_kernel(1.0)), plan.items,
                             executor=dask_batch.DaskExecutor(address))
    assert report.count("done") == 12
    assert len(list((tmp_path / "rel-out").glob("*.png"))) == 12
    for folder in set(client.run(os.getcwd).values()):  # where a relative path would land
        assert not (Path(folder) / "rel-out").exists()


class BlindClient:
    """Two workers; ``w2`` has its own folder at the client's paths (another file system)."""

    scheduler = type("Scheduler", (), {"address": "tcp://fake:8786"})

    def run(self, function, *args):
        if function is dask_batch._version:
            return {"w1": function(), "w2": function()}
        seen = function(*args)
        return {"w1": seen, "w2": None if function is dask_batch._read_probe else (0, 0)}

    def nthreads(self):
        return {"w1": 1, "w2": 1}


def test_workers_on_another_file_system_are_refused_before_any_work(photos, tmp_path):
    # BlindClient has no submit(): any work sent would fail with AttributeError instead.
    executor = dask_batch.DaskExecutor(client=BlindClient())
    with pytest.raises(UsageError, match=r"worker w2 does not see .*/out as this machine"):
        run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "out", executor=executor)
    assert list((tmp_path / "out").iterdir()) == []  # the probe file is gone too
    tifffile = pytest.importorskip("tifffile")
    from convtool import scale

    source = tmp_path / "one.tif"
    tifffile.imwrite(source, np.zeros((20, 20), np.uint8))
    with pytest.raises(UsageError, match=r"worker w2 does not see .*one\.tif"):
        scale.filter_file(FilterJob(gaussian_kernel(1.0)), source, tmp_path / "o.tif", tiles=8,
                          client=BlindClient())
    assert not (tmp_path / "o.tif").exists()


def test_submission_is_a_bounded_window(cluster, photos, tmp_path):
    address, _, _ = cluster
    executor = dask_batch.DaskExecutor(address, files_per_task=1)
    in_flight = []
    fill = executor._fill

    def counted():
        new = fill()
        in_flight.append(len(executor._running))
        return new

    executor._fill = counted
    report = run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "o", executor=executor)
    assert report.count("done") == 12
    assert executor._window == 4  # two worker threads, two tasks each
    assert max(in_flight) == 4 < 13  # 13 tasks, never more than the window at once


def test_the_job_travels_with_each_task_never_scattered(cluster, photos, tmp_path, monkeypatch):
    # A scattered job is lost with the worker holding it (the Active Memory Manager drops the
    # copies), and every task needing it is cancelled with it.
    address, _, _ = cluster

    def refuse(*args, **kwargs):
        raise AssertionError("scatter() called")

    monkeypatch.setattr(distributed.Client, "scatter", refuse)
    report = run(FilterJob(gaussian_kernel(1.0)), photos, tmp_path / "o",
                 executor=dask_batch.DaskExecutor(address))
    assert report.count("done") == 12


def test_the_command_line_on_a_cluster(cluster, photos, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from convtool.cli import app

    address, _, _ = cluster
    runner = CliRunner()
    args = ["blur", "-s", "1.5", str(photos), "--json", "--out-dir"]
    local = runner.invoke(app, [*args, str(tmp_path / "local")])
    flag = runner.invoke(app, [*args, str(tmp_path / "flag"), "--scheduler", address])
    monkeypatch.setenv("CONVTOOL_SCHEDULER", address)
    env = runner.invoke(app, [*args, str(tmp_path / "env")])
    reports = []
    for result in (local, flag, env):
        assert result.exit_code == 1  # the corrupt file, and only it
        report = json.loads(result.stdout)
        reports.append([(Path(f["input"]).name, f["status"]) for f in report["files"]])
        assert report["summary"]["failed"] == 1 and report["summary"]["done"] == 12
    assert reports[0] == reports[1] == reports[2]
    for name in sorted(p.name for p in (tmp_path / "local").iterdir()):
        for folder in ("flag", "env"):
            assert (tmp_path / folder / name).read_bytes() == \
                (tmp_path / "local" / name).read_bytes()


def test_one_image_s_tiles_on_the_cluster_from_the_command_line(cluster, tmp_path, rng,
                                                                 monkeypatch):
    tifffile = pytest.importorskip("tifffile")
    from typer.testing import CliRunner

    from convtool.cli import app

    address, _, _ = cluster
    monkeypatch.chdir(tmp_path)  # relative names: the workers open the input by absolute path
    tifffile.imwrite("in.tif", (rng.random((50, 60, 3)) * 256).astype(np.uint8), tile=(16, 16),
                     photometric="rgb")
    runner = CliRunner()
    here = runner.invoke(app, ["blur", "-s", "2", "in.tif", "here.tif"])
    there = runner.invoke(app, ["blur", "-s", "2", "in.tif", "there.tif", "--tiles", "16",
                                "--scheduler", address])
    assert here.exit_code == 0 and there.exit_code == 0, here.output + there.output
    assert np.array_equal(tifffile.imread("there.tif"), tifffile.imread("here.tif"))


def test_ctrl_c_on_the_command_line_exits_130(cluster, tmp_path, rng):
    import subprocess
    import sys

    address, _, _ = cluster
    folder = tmp_path / "in"
    folder.mkdir()
    # Enough files that work is left after the first progress line even when files come
    # back in groups and the machine is loaded (10 files all came back at once under load).
    pixels = rng.random((160, 160, 3)).astype(np.float32)
    for n in range(40):
        imaging.write_image(imaging.Image(pixels=pixels, mode="RGB"), folder / f"s{n:02d}.png")
    np.save(tmp_path / "k.npy", rng.random((25, 25)) / 300)  # rank 25: slow, direct
    with subprocess.Popen(
            [sys.executable, "-m", "convtool", "convolve", str(folder), "--out-dir",
             str(tmp_path / "out"), "-k", str(tmp_path / "k.npy"), "--method", "direct",
             "--scheduler", address], stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": daskcluster.SRC}) as proc:
        first = proc.stderr.readline()  # the first file's progress line
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(60) == 130, first + rest
    assert "[1/40]" in first
    assert "not done" in rest
    assert "Traceback" not in rest
    assert not list((tmp_path / "out").glob(".convtool-*"))


def test_the_scheduler_settings_are_checked(cluster):
    _, client, _ = cluster
    assert dask_batch.scheduler_advice(client) is None  # started as the README says

    class DefaultScheduler:
        def run_on_scheduler(self, function):
            scheduler = type("S", (), {"allowed_failures": 3, "WORKER_SATURATION": 1.1})
            return function(dask_scheduler=scheduler)

    advice = dask_batch.scheduler_advice(DefaultScheduler())
    assert "3 time(s)" in advice and "ALLOWED_FAILURES=0" in advice
    assert "WORKER_SATURATION=1.0" in advice


def test_one_image_s_bands_run_at_once_on_the_workers(cluster, tmp_path, rng):
    tifffile = pytest.importorskip("tifffile")
    from convtool import scale

    _, client, _ = cluster
    source = tmp_path / "tall.tif"  # 8 bands of one tile each: whole rows are one tile
    tifffile.imwrite(source, (rng.random((800, 100)) * 256).astype(np.uint8), tile=(16, 16))
    job = FilterJob(Kernel(rng.random((31, 31)) / 500), method="direct")  # ~0.1 s a tile
    with distributed.get_task_stream(client) as stream:
        run = scale.filter_file(job, source, tmp_path / "o.tif", tiles=100, client=client)
    assert run.tiles == 8
    spans = sorted((s["start"], s["stop"]) for task in stream.data
                   for s in task["startstops"] if s["action"] == "compute")
    assert len(spans) >= 8
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), spans
    expected = scale.filter_file(job, source, tmp_path / "here.tif", tiles=100)
    assert expected.tiles == 8
    assert np.array_equal(tifffile.imread(tmp_path / "o.tif"), tifffile.imread(tmp_path /
                                                                                "here.tif"))
