"""Running a batch: every file through one executor, into one :class:`BatchReport`."""

from __future__ import annotations

import contextlib
import glob
import os
import time

from convtool import imaging
from convtool.batch.executor import Executor, RunSpec, WorkItem
from convtool.batch.local import InlineExecutor, LocalExecutor, default_jobs
from convtool.batch.results import BatchReport
from convtool.errors import UsageError
from convtool.pipeline import FileResult, FilterJob


def check_jobs(jobs: int | None) -> int:
    """``jobs`` as a worker count: None is one per core; anything else must be >= 1."""
    if jobs is None:
        return default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        msg = f"jobs must be a whole number >= 1, got {jobs!r}"
        raise UsageError(msg, params=("jobs",))
    return jobs


def run_batch(job: FilterJob, items, *, jobs: int | None = None,
              executor: Executor | None = None, format: str | None = None,
              save: imaging.SaveOptions | None = None, max_pixels: int | None = None,
              on_result=None, skipped=(), processor=None) -> BatchReport:
    """Filter every ``(source, target)`` pair in ``items``, in parallel.

    Parameters
    ----------
    job : FilterJob
        Sent once to each worker.
    items : sequence of (source, target)
        Usually :attr:`BatchPlan.items`. Output folders are created as needed.
    jobs : int, optional
        Worker processes of the default executor (default:
        :func:`default_jobs`). With ``jobs=1`` files are filtered in this process.
    executor : Executor, optional
        Where the files run (default: :class:`LocalExecutor` with ``jobs``
        workers, or in this process for ``jobs=1`` or a single file).
    format : str, optional
        Output format for every file (default: from each target's extension).
    save : SaveOptions, optional
        How to encode every output (``format`` overrides its format).
    max_pixels : int, optional
        The decompression-bomb limit, as :func:`convtool.imaging.read_image`.
    on_result : callable, optional
        Called in this process with each :class:`FileResult` as it completes
        (in completion order), e.g. to draw progress.
    skipped : sequence of FileResult
        Results to put first in the report (:attr:`BatchPlan.skipped`).
    processor : callable, optional
        What filters each file (see :attr:`RunSpec.processor`; default
        :func:`convtool.pipeline.process_file`).

    Returns
    -------
    BatchReport
        One result per file, in the order of ``items``. A failing file does not
        stop the others. Ctrl-C (KeyboardInterrupt) stops the run cleanly: the
        report has ``interrupted=True`` and the unfinished files.

    Notes
    -----
    At most ``jobs`` images are in memory at a time: each worker is handed one
    file when it is idle. A worker that dies (killed, out of memory) fails only
    the file it was working on; a new worker takes its place. Outputs are
    written atomically (a hidden ``.convtool-*.tmp`` renamed into place); on
    Ctrl-C the workers are stopped and remove their temporary files, and any
    such file that appeared in an output folder during the run and is still
    there at the end (a worker killed outright cannot clean up) is removed.
    Temporary files that were there before the run are left alone.
    """
    items = [WorkItem(i, os.fspath(s), os.fspath(t)) for i, (s, t) in enumerate(items)]
    jobs = check_jobs(jobs)
    if executor is None:
        inline = jobs == 1 or len(items) <= 1 or not _main_is_importable()
        executor = InlineExecutor() if inline else LocalExecutor(jobs)
    start = time.perf_counter()
    results: list[FileResult | None] = [None] * len(items)
    folders = {os.path.dirname(os.path.abspath(item.target)) for item in items}
    temps_before = _temp_files(folders)

    def record(item: WorkItem, result: FileResult) -> None:
        results[item.index] = result
        if on_result is not None:
            on_result(result)

    interrupted = False
    try:
        _run_all(executor, RunSpec(job, format, save, max_pixels, processor), items, record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # write_image removes its temporary file on any error it sees; one can only
        # be left by a worker that died or was stopped, so sweep only then (a
        # concurrent run's temporary files are not touched by a clean run).
        if interrupted or any(r is None or r.status == "failed" for r in results):
            for stale in _temp_files(folders) - temps_before:
                with contextlib.suppress(OSError):
                    os.unlink(stale)
    final = [r if r is not None else FileResult(item.source, item.target, (), "", 0.0,
                                                 "interrupted", "not done: the run was interrupted")
             for r, item in zip(results, items, strict=True)]
    return BatchReport(list(skipped) + final, time.perf_counter() - start, interrupted)


def _main_is_importable() -> bool:
    """Whether worker processes can import the caller's ``__main__`` without rerunning it.

    Workers start by importing the main script. A script without an
    ``if __name__ == "__main__":`` guard would run the batch again in every
    worker, and a program read from stdin cannot be imported at all: such
    callers get the files filtered in their own process instead.
    """
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        return path is not None or not hasattr(main, "__file__")  # -m modules; interactive
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "__main__" in f.read()
    except OSError:  # '<stdin>' and the like
        return False


def _run_all(executor: Executor, spec: RunSpec, items: list[WorkItem], record) -> None:
    """Submit every item and record each result; on any exception, cancel first."""
    with executor:
        try:
            executor.start(spec, len(items))
            for item in items:
                executor.submit(item)
            for item, result in executor.results():
                record(item, result)
        except BaseException:
            for item, result in executor.cancel():
                record(item, result)
            raise


def _temp_files(folders) -> set[str]:
    found = set()
    for folder in folders:
        found.update(glob.glob(os.path.join(glob.escape(folder), imaging.TEMP_PATTERN)))
    return found


def stale_temp_files(folder) -> list[str]:
    """``.convtool-*.tmp`` files in ``folder``: left by a run that was killed outright."""
    return sorted(_temp_files([os.fspath(folder)]))
