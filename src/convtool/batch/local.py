"""The default executors: in this process, and a home-made pool of local worker processes.

The pool is home-made because :class:`concurrent.futures.ProcessPoolExecutor`
breaks the whole pool when one worker dies; here a dead worker (killed, out of
memory) fails only the file it held, and a new worker takes its place.

Each worker has its own pipe and is handed one file at a time, so the parent
always knows which file a worker holds, and at most one image per worker is in
memory. :func:`multiprocessing.connection.wait` watches the pipes and the
process sentinels together. Workers ignore SIGINT (the parent decides what
Ctrl-C means) and turn SIGTERM into an exception, so a stopped worker unwinds
through :func:`convtool.imaging.write_image`, which removes its temporary file.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import replace

from convtool.batch.executor import Executor, RunSpec, WorkItem, run_item
from convtool.pipeline import FileResult


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class InlineExecutor(Executor):
    """Runs every file in this process, one after the other (``jobs=1``)."""

    def __init__(self):
        self._spec: RunSpec | None = None
        self._queue: collections.deque[WorkItem] = collections.deque()

    def start(self, spec: RunSpec, count: int) -> None:
        self._spec = spec

    def submit(self, item: WorkItem) -> None:
        self._queue.append(item)

    def results(self) -> Iterator[tuple[WorkItem, FileResult]]:
        while self._queue:
            item = self._queue.popleft()
            yield item, run_item(self._spec, item)

    def cancel(self) -> list[tuple[WorkItem, FileResult]]:
        self._queue.clear()
        return []


class _Stopped(BaseException):
    """Raised in a worker by SIGTERM: the run is being stopped."""


def _on_sigterm(signum, frame):
    raise _Stopped


def _worker_main(conn, spec: RunSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):  # the parent decides what a hang-up means, as for Ctrl-C
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:  # the handler is set inside: a SIGTERM right after it must not escape as a traceback
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _serve(conn, spec)
        finally:  # nor one after the loop, while the process winds down
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except _Stopped:
        return


def _serve(conn, spec: RunSpec) -> None:
    """Filter the files the parent sends until it sends None or goes away."""
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        result = run_item(spec, item)
        try:
            conn.send(result)
        except OSError:  # the parent has gone (BrokenPipeError): nobody to report to
            return


@contextlib.contextmanager
def _sigint_ignored():
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    def __init__(self, ctx, spec: RunSpec):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, spec), daemon=True)
        self.item: WorkItem | None = None
        # Children are born ignoring SIGINT: a Ctrl-C while they start up must not
        # print a traceback from each of them.
        with _sigint_ignored():
            self.process.start()
        child.close()

    def give(self, item: WorkItem) -> bool:
        """Hand over a file; False if the worker is gone (it died while idle)."""
        try:
            self.conn.send(item)
        except (OSError, ValueError):
            return False
        self.item = item
        return True

    def receive(self) -> FileResult | None:
        """The finished file's result, or None if there is none (yet, or ever)."""
        try:
            return self.conn.recv() if self.conn.poll() else None
        except (EOFError, OSError):
            return None

    def stop(self, how: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            if how == "close":
                self.conn.send(None)
            elif how == "terminate":
                self.process.terminate()
            else:
                self.process.kill()


def _death_reason(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed ({name}) while filtering it"
    return f"the worker process exited unexpectedly (exit code {code}) while filtering it"


#: What a forkserver imports once, so that each worker forked from it starts
#: with numpy, Pillow and the pipeline loaded (see benchmarks/bench_pool_start.py).
PRELOAD = ("numpy", "PIL.Image", "convtool.pipeline.files", "convtool.batch.local")


def _worker_context():
    """A forkserver with :data:`PRELOAD` where the platform has one, else spawn.

    Both start workers from a clean single-threaded process (never a fork of
    the caller and its threads); the forkserver imports the modules once
    instead of once per worker.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


class LocalExecutor(Executor):
    """Worker processes on this machine, ``jobs`` of them (default: one per core).

    The cores are shared among the workers, not multiplied: a job without
    ``threads`` gets ``cores // workers`` engine threads in each worker.
    Workers are forked from a forkserver that has imported numpy, Pillow and
    the pipeline once (:func:`_worker_context`; ``spawn``, a fresh interpreter
    each, where there is no forkserver): either way never a fork of the caller,
    so they are safe whatever threads the caller has running.
    """

    def __init__(self, jobs: int | None = None):
        self.jobs = default_jobs() if jobs is None else jobs
        self._spec: RunSpec | None = None
        self._pool_size = self.jobs
        self._queue: collections.deque[WorkItem] = collections.deque()
        self._workers: list[_Worker] = []
        self._ctx = None

    def start(self, spec: RunSpec, count: int) -> None:
        self._pool_size = max(1, min(self.jobs, count))
        if spec.job.threads is None:
            threads = max(1, default_jobs() // self._pool_size)
            spec = replace(spec, job=replace(spec.job, threads=threads))
        self._spec = spec

    def submit(self, item: WorkItem) -> None:
        self._queue.append(item)

    def _spawn(self) -> _Worker:
        if self._ctx is None:
            self._ctx = _worker_context()
        worker = _Worker(self._ctx, self._spec)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)

    def _hand_next(self, worker: _Worker) -> None:
        """Give ``worker`` the next file; replace it first if it has died meanwhile."""
        while self._queue:
            if worker.give(self._queue[0]):
                self._queue.popleft()
                return
            self._retire(worker)
            worker = self._spawn()

    def results(self) -> Iterator[tuple[WorkItem, FileResult]]:
        from multiprocessing.connection import wait

        for _ in range(min(self._pool_size, len(self._queue)) - len(self._workers)):
            self._hand_next(self._spawn())
        while any(w.item is not None for w in self._workers):
            busy = [w for w in self._workers if w.item is not None]
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    yield from self._collect(worker)
        for worker in self._workers:
            worker.stop("close")
        for worker in self._workers:
            worker.process.join()

    def _collect(self, worker: _Worker) -> Iterator[tuple[WorkItem, FileResult]]:
        """The result of a worker that woke up, or a failure if it died."""
        result = worker.receive()
        item, worker.item = worker.item, None
        if result is not None:
            self._hand_next(worker)
            yield item, result
            return
        if worker.process.is_alive():  # woken without a result: keep waiting
            worker.item = item
            return
        self._retire(worker)
        reason = f"{item.source}: {_death_reason(worker.process)}"
        if self._queue:
            self._hand_next(self._spawn())
        yield item, FileResult(item.source, item.target, (), "", 0.0, "failed", reason)

    def cancel(self) -> list[tuple[WorkItem, FileResult]]:
        # SIGTERM lets each worker remove its temporary file; SIGKILL is the
        # fallback for one that does not stop.
        self._queue.clear()
        finished = []
        with _sigint_ignored():
            for worker in self._workers:
                worker.stop("terminate")
            for worker in self._workers:
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.stop("kill")
                    worker.process.join()
            for worker in self._workers:  # results sent just before the stop still count
                result = worker.receive() if worker.item is not None else None
                if result is not None:
                    finished.append((worker.item, result))
        return finished

    def close(self) -> None:
        for worker in self._workers:
            worker.conn.close()
        self._workers = []
