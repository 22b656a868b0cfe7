"""A Dask cluster of this machine for the tests: a scheduler and workers on 127.0.0.1 only.

Not a test module. Every process listens on the loopback interface (the
dashboards too: ``--no-dashboard`` alone still binds 0.0.0.0), on free ports,
and is stopped by :func:`stop`.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, **env):
    env = {**os.environ, "PYTHONPATH": SRC,
           # As the README says to start a scheduler: it gives up on a task at its first dead
           # worker (the executor retries, file by file), and sends a worker no more tasks
           # than it has threads (a task queued on a worker that dies is lost with it).
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0", **env}
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def start(workers: int = 2, memory_limit: str = "0"):
    """``(address, client, processes)`` of a new cluster, once every worker has joined."""
    import distributed

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                    str(port), "--dashboard-address", f"127.0.0.1:{free_port()}"])]
    for _ in range(workers):
        procs.append(spawn(["distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                            "--dashboard-address", "127.0.0.1:0", "--nthreads", "1",
                            "--memory-limit", memory_limit]))
    client = None
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, TimeoutError):
                client = client or distributed.Client(address, timeout=5, set_as_default=False)
                if len(client.nthreads()) == workers:
                    return address, client, procs
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not start")
            time.sleep(0.3)
    except BaseException:
        stop(client, procs)
        raise


def stop(client, procs) -> None:
    if client is not None:
        client.close()
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10)
