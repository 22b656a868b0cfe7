"""Batches on a Dask cluster of this machine: a scheduler and two workers on 127.0.0.1.

Every socket of theirs must be on the loopback interface (a test checks it),
outputs must be byte-identical to the local run, and a corrupt file or a killed
worker must cost only that file's attempt.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

from convtool import batch, imaging  # noqa: E402
from convtool.errors import UsageError  # noqa: E402
from convtool.kernels import Kernel, gaussian_kernel  # noqa: E402
from convtool.pipeline import FilterJob  # noqa: E402
from convtool.scale import dask_batch  # noqa: E402

SRC = str(Path(__file__).resolve().parent.parent / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args):
    env = {**os.environ, "PYTHONPATH": SRC,
           # The scheduler gives up on a task at its first dead worker; the executor retries.
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture(scope="module")
def cluster():
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                     str(port), "--dashboard-address", f"127.0.0.1:{free_port()}"])]
    for _ in range(2):
        procs.append(_spawn(["distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                             "--dashboard-address", "127.0.0.1:0", "--nthreads", "1",
                             "--memory-limit", "0"]))
    client = None
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, TimeoutError):
                client = client or distributed.Client(address, timeout=5, set_as_default=False)
                if len(client.nthreads()) == 2:
                    break
            assert time.monotonic() < deadline, "the test cluster did not start"
            time.sleep(0.3)
        yield address, client, procs
    finally:
        if client is not None:
            client.close()
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)


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


def test_every_socket_is_on_loopback(cluster):
    _, _, procs = cluster
    listening = []
    for p in procs:
        for proc in [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]:
            listening += [c.laddr.ip for c in proc.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 5  # scheduler, its dashboard, two workers, their dashboards
    assert set(listening) == {"127.0.0.1"}


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
        dask_batch.connect(f"tcp://127.0.0.1:{free_port()}", timeout=1)


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
