"""Batches on a Dask distributed cluster: an :class:`~convtool.batch.executor.Executor`.

The client plans the run as for the local pool (inputs, outputs, clashes); this
executor sends the work to the cluster in tasks of several files (5 to 20:
one file per task costs more in scheduling than it saves), at most a window of
tasks at a time, so a million-file run never floods the scheduler. Each task
carries the run's :class:`~convtool.batch.executor.RunSpec` (small; a scattered
copy can be dropped by the scheduler's memory manager and take every
dependent task with it) and absolute paths (a relative path would resolve in
the worker's own folder).

Before any work the executor checks that every worker runs this convtool
version and sees the client's file system (a file the client writes in each
output folder must be readable, with the same contents, by every worker).

Faults: a failing file fails only itself (:func:`run_item` never raises for
a file). A task whose worker died (killed, out of memory) is retried file by
file, each file up to ``retries`` more times, so the file that kills workers
is found and reported failed while its neighbours are done. Start the
scheduler with ``allowed-failures`` 0 (see the README) so that the scheduler
gives up on a task at its first dead worker and this retry policy is the
only one. On Ctrl-C, queued tasks are cancelled, running files get ``grace``
seconds, and the files not done are reported so.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import replace

from convtool.batch.executor import Executor, RunSpec, WorkItem, run_item
from convtool.errors import UsageError
from convtool.pipeline import FileResult

#: Files per task: fewer and the scheduler's per-task cost dominates, more and
#: the load spreads unevenly over the workers (figures in the README).
FILES_PER_TASK = (5, 20)
#: Tasks in flight per worker thread: enough to keep workers busy between replies.
WINDOW_PER_THREAD = 2
#: Extra attempts of a file whose worker died.
RETRIES = 1


def run_group(spec: RunSpec, items: list[WorkItem]) -> list[FileResult]:
    """Filter ``items`` on a worker, one after the other; never raises for a file."""
    return [run_item(spec, item) for item in items]


def _version() -> str:
    import convtool

    return convtool.__version__


def _read_probe(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError:
        return None


def _absolute(item: WorkItem) -> WorkItem:
    def fix(path: str) -> str:
        return path if path == "-" else os.path.abspath(path)

    return replace(item, source=fix(item.source), target=fix(item.target))


def _temp_files(folders) -> set[str]:
    import glob

    from convtool.imaging.choices import TEMP_PATTERN

    return {path for folder in folders
            for path in glob.glob(os.path.join(glob.escape(folder), TEMP_PATTERN))}


def connect(address: str, timeout: float = 10.0):
    """A :class:`distributed.Client` for the scheduler at ``address``, or a one-line error."""
    from convtool.scale import require_extra

    require_extra()
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover
        from convtool.scale import MISSING_EXTRA

        raise UsageError(MISSING_EXTRA) from exc
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        msg = f"--scheduler {address}: cannot connect ({exc})"
        raise UsageError(msg) from exc


def _signature(path: str):
    """What identifies a file across machines that share it: its size and modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _scheduler_settings(dask_scheduler=None) -> tuple[int, float]:
    return dask_scheduler.allowed_failures, float(dask_scheduler.WORKER_SATURATION)


def scheduler_advice(client) -> str | None:
    """A sentence when the scheduler is not set up as the README says, else None.

    With ``allowed-failures`` above 0 the scheduler itself reruns a task whose
    worker died, so a file that exhausts memory kills that many more workers;
    with ``worker-saturation`` above 1 a task waiting on a worker that dies is
    lost with it.
    """
    try:
        failures, saturation = client.run_on_scheduler(_scheduler_settings)
    except Exception:  # an older or locked-down scheduler: nothing to say
        return None
    if failures == 0 and saturation <= 1.0:
        return None
    return (f"the scheduler reruns a task whose worker died {failures} time(s) "
            f"(allowed-failures) and queues up to {saturation:g} tasks a thread "
            "(worker-saturation): a file that exhausts a worker's memory can take several "
            "workers with it; start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0 "
            "and DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0")


def check_workers(client, folders, files=()) -> int:
    """Refuse workers with another convtool version or another file system; return the thread count.

    ``folders`` are the run's output folders (created here if needed): a probe
    file with a random token is written in each and must be read back,
    identical, by every worker. ``files`` (absolute paths, e.g. the image whose
    tiles the workers read) must have the same size and modification time on
    every worker as here.
    """
    here = _version()
    versions = client.run(_version)
    if not versions:
        msg = f"--scheduler {client.scheduler.address}: no workers are connected"
        raise UsageError(msg)
    other = {w: v for w, v in versions.items() if v != here}
    if other:
        worker, version = sorted(other.items())[0]
        msg = (f"--scheduler: worker {worker} runs convtool {version}, this client {here}; "
               "install the same version everywhere")
        raise UsageError(msg)
    for folder in sorted(folders):
        os.makedirs(folder, exist_ok=True)
        token = os.urandom(16).hex()
        probe = os.path.join(folder, f".convtool-probe-{token}")
        with open(probe, "w", encoding="ascii") as f:
            f.write(token)
        try:
            seen = client.run(_read_probe, probe)
        finally:
            with contextlib.suppress(OSError):
                os.remove(probe)
        blind = sorted(w for w, value in seen.items() if value != token)
        if blind:
            msg = (f"--scheduler: worker {blind[0]} does not see {folder} as this machine does "
                   "(the cluster needs one shared file system, mounted at the same paths)")
            raise UsageError(msg)
    for path in files:
        here_sig = _signature(path)
        blind = sorted(w for w, sig in client.run(_signature, path).items() if sig != here_sig)
        if blind:
            msg = (f"--scheduler: worker {blind[0]} does not see {path} as this machine does "
                   "(the cluster needs one shared file system, mounted at the same paths)")
            raise UsageError(msg)
    return sum(client.nthreads().values())


class DaskExecutor(Executor):
    """Run a batch's files on the Dask scheduler at ``address`` (``tcp://host:8786``).

    Parameters
    ----------
    address : str
    files_per_task : int, optional
        Default: the files left over two tasks per worker thread, within
        :data:`FILES_PER_TASK` (fewer only when fewer files are left).
    retries : int
        Extra attempts of a file whose worker died.
    grace : float
        Seconds running files get to finish after Ctrl-C.
    client : distributed.Client, optional
        Use this client instead of connecting to ``address``.
    """

    def __init__(self, address: str | None = None, *, files_per_task: int | None = None,
                 retries: int = RETRIES, grace: float = 10.0, client=None):
        self.address, self.files_per_task = address, files_per_task
        self.retries, self.grace = retries, grace
        self._client, self._own_client = client, client is None
        self._queue: collections.deque[WorkItem] = collections.deque()
        self._singles: collections.deque[WorkItem] = collections.deque()
        self._attempts: collections.Counter = collections.Counter()
        self._running: dict = {}  # future -> list of (item, absolute item)
        self._spec: RunSpec | None = None
        self._checked = False
        #: What the command line should say about the scheduler's settings, once connected.
        self.advice: str | None = None

    def start(self, spec: RunSpec, count: int) -> None:
        if self._client is None:
            self._client = connect(self.address)
        self._spec, self._count = spec, count

    def submit(self, item: WorkItem) -> None:
        self._queue.append(item)

    def _prepare(self) -> None:
        folders = {os.path.dirname(_absolute(i).target) for i in self._queue if i.target != "-"}
        threads = check_workers(self._client, folders)
        self._folders, self._temps_before, self._lost_any = folders, _temp_files(folders), False
        self._threads = threads
        self.advice = scheduler_advice(self._client)
        self._window = WINDOW_PER_THREAD * threads
        self._checked = True

    def _group_size(self) -> int:
        """Files in the next task: a share of what is left, within :data:`FILES_PER_TASK`.

        Groups shrink as the queue empties (as in guided scheduling), so the
        last tasks are short and no worker is left with a long one at the end.
        """
        if self.files_per_task:
            return self.files_per_task
        lo, hi = FILES_PER_TASK
        share = math.ceil(len(self._queue) / (2 * self._threads))
        return max(1, min(hi, max(lo, share), share))

    def _fill(self) -> list:
        """Submit tasks until the window is full; return the new futures."""
        new = []
        while len(self._running) < self._window and (self._singles or self._queue):
            source = self._singles if self._singles else self._queue
            take = 1 if source is self._singles else self._group_size()
            group = [source.popleft() for _ in range(min(take, len(source)))]
            for item in group:
                self._attempts[item.index] += 1
            absolute = [_absolute(item) for item in group]
            future = self._client.submit(run_group, self._spec, absolute, pure=False,
                                         key=f"convtool-{os.urandom(8).hex()}")
            self._running[future] = group
            new.append(future)
        return new

    def results(self) -> Iterator[tuple[WorkItem, FileResult]]:
        from distributed import as_completed

        if not self._checked:
            self._prepare()
        pending = as_completed(self._fill(), loop=self._client.loop)
        for future in pending:
            group = self._running.pop(future)
            try:
                done = future.result()
            except Exception as exc:  # the worker died, or the task could not run
                yield from self._lost(group, exc)
            else:
                for item, result in zip(group, done, strict=True):
                    yield item, replace(result, source=item.source, target=item.target)
            pending.update(self._fill())
        if self._lost_any:
            # A dead worker cannot remove its temporary file. Every task has ended now,
            # so any temporary file this run left is an orphan.
            for stale in _temp_files(self._folders) - self._temps_before:
                with contextlib.suppress(OSError):
                    os.unlink(stale)

    def _lost(self, group: list[WorkItem], exc: BaseException):
        """Retry a lost task's files one by one; a file out of attempts fails with the reason."""
        self._lost_any = True
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        for item in group:
            if self._attempts[item.index] <= self.retries:
                self._singles.append(item)
                continue
            error = (f"{item.source}: the worker filtering it died "
                     f"{self._attempts[item.index]} times ({reason})")
            yield item, FileResult(item.source, item.target, (), "", 0.0, "failed", error)

    def cancel(self) -> list[tuple[WorkItem, FileResult]]:
        self._queue.clear()
        self._singles.clear()
        futures = list(self._running)
        if self._client is not None and futures:
            self._client.cancel(futures)
            self._wait_for_workers(futures)
        finished = []
        for future in futures:
            if future.status == "finished":
                group = self._running[future]
                done = future.result()
                finished += [(i, replace(r, source=i.source, target=i.target))
                             for i, r in zip(group, done, strict=True)]
        self._running.clear()
        return finished

    def _wait_for_workers(self, futures) -> None:
        """Up to ``grace`` seconds for cancelled tasks that were already running to end."""
        keys = {f.key for f in futures}
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            busy = self._client.processing()
            if not any(keys & set(tasks) for tasks in busy.values()):
                return
            time.sleep(0.1)

    def close(self) -> None:
        if self._client is not None and self._own_client:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None
