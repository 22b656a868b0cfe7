"""Files per second of a batch: the local pool against a Dask cluster of this machine.

    PYTHONPATH=src python benchmarks/bench_dask_batch.py [--files 200] [--workers 2]
        [--repeat 3] [--groups 1 10 20]

Starts a scheduler and ``--workers`` single-threaded workers on 127.0.0.1,
writes ``--files`` small PNGs, and times ``run_batch`` with the local pool of
the same size and with :class:`~convtool.scale.dask_batch.DaskExecutor` at its
default grouping and at each fixed number of files per task in ``--groups``.
Each run starts from an empty output folder; the runs are interleaved and the
medians of ``--repeat`` runs are printed, with each as a ratio to the local pool.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": "src",
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    spawn = [sys.executable, "-m"]
    procs = [subprocess.Popen([*spawn, "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--dashboard-address",
                               f"127.0.0.1:{free_port()}"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(workers):
        procs.append(subprocess.Popen(
            [*spawn, "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--host",
             "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--nthreads", "1"],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
    return f"tcp://127.0.0.1:{port}", procs


def main() -> None:
    from distributed import Client

    from convtool import batch, imaging
    from convtool.kernels import gaussian_kernel
    from convtool.pipeline import FilterJob
    from convtool.scale.dask_batch import DaskExecutor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--groups", type=int, nargs="*", default=[1],
                        help="also time these fixed numbers of files per task")
    args = parser.parse_args()
    address, procs = start_cluster(args.workers)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rng = np.random.default_rng(1)
            src = os.path.join(tmp, "in")
            os.mkdir(src)
            for n in range(args.files):
                pixels = rng.random((256, 256, 3)).astype(np.float32)
                imaging.write_image(imaging.Image(pixels=pixels, mode="RGB"),
                                    os.path.join(src, f"p{n:04}.png"))
            client = Client(address, timeout=30, set_as_default=False)
            while len(client.nthreads()) < args.workers:
                time.sleep(0.2)
            job = FilterJob(gaussian_kernel(2.0), threads=1)
            runs = {"local pool": lambda: None,
                    "dask, default": lambda: DaskExecutor(client=client)}
            for n in args.groups:
                runs[f"dask, {n} files/task"] = (
                    lambda n=n: DaskExecutor(client=client, files_per_task=n))
            times = {name: [] for name in runs}
            for r in range(args.repeat):
                for name, make in runs.items():
                    out = os.path.join(tmp, f"out-{r}-{len(times[name])}-{name}")
                    plan = batch.plan_batch([src], out)
                    start = time.perf_counter()
                    report = batch.run_batch(job, plan.items, jobs=args.workers,
                                             executor=make())
                    times[name].append(time.perf_counter() - start)
                    assert not report.failed
            client.close()
        base = statistics.median(times["local pool"])
        print(f"{args.files} files of 256x256 RGB, gaussian:2, {args.workers} workers "
              f"(median of {args.repeat})")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:<20} {args.files / median:7.1f} files/s  {median / base:5.2f}x "
                  "the local pool's time")
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
