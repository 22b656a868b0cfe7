"""The narrow interface between a batch run and whatever runs its files.

A batch run sends one :class:`RunSpec` (the job and how to read and write)
to an :class:`Executor` once, then submits one :class:`WorkItem` per file and
collects a :class:`~convtool.pipeline.FileResult` for each as it completes.
Work items and results are small and picklable, and the only state they share
is the file system, so an executor may run them in this process, in local
worker processes (:class:`~convtool.batch.local.LocalExecutor`) or on other
machines (a Dask executor).

Adding an executor: subclass :class:`Executor`, run :func:`run_item` for each
submitted item wherever you like, and yield ``(item, result)`` pairs from
:meth:`Executor.results` as they complete.
"""

from __future__ import annotations

import abc
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from convtool import imaging
from convtool.errors import ConvtoolError
from convtool.pipeline import FileResult, FilterJob, process_file


@dataclass(frozen=True)
class RunSpec:
    """What every file of a run shares; sent to each worker once.

    Attributes
    ----------
    job : FilterJob
    format : str or None
        Output format for every file (default: from each target's extension).
    save : SaveOptions or None
        How to encode every output (``format`` overrides its format).
    max_pixels : int or None
        The decompression-bomb limit, as :func:`convtool.imaging.read_image`.
    processor : callable or None
        What filters one file: called as :func:`convtool.pipeline.process_file`
        (default), with ``(job, source, target, format=, save=, max_pixels=)``.
        It must be picklable (a module-level function, or a
        :func:`functools.partial` of one), e.g. the tiled path's
        ``convtool.scale.dispatch.process_file`` with a memory budget.
    """

    job: FilterJob
    format: str | None = None
    save: imaging.SaveOptions | None = None
    max_pixels: int | None = None
    processor: Callable[..., FileResult] | None = None


@dataclass(frozen=True)
class WorkItem:
    """One file's work: its place in the run, the input and the output path."""

    index: int
    source: str
    target: str



def make_folders(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)`` without recursion (os.makedirs recurses once
    per missing level, and a 1,200-level output tree passes Python's recursion limit)."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            if not os.path.isdir(path):
                raise

def run_item(spec: RunSpec, item: WorkItem) -> FileResult:
    """Filter one file; never raises for a file's failure.

    A failure becomes a ``"failed"`` result whose ``error`` says why; an
    unexpected exception (a bug) also carries its formatted ``traceback``,
    so it can be shown where the run was started. Output folders are created.
    """
    start = time.perf_counter()
    source, target = item.source, item.target
    params, trace = (), None
    try:
        make_folders(os.path.dirname(target) or ".")
        return (spec.processor or process_file)(spec.job, source, target, format=spec.format,
                                                save=spec.save, max_pixels=spec.max_pixels)
    except ConvtoolError as e:
        error, params = str(e), e.params
    except MemoryError:
        error = f"{source}: out of memory: try a smaller image or kernel"
    except OSError as e:
        error = f"{target}: {e.strerror or e}"
    except Exception as e:  # a bug: report it with the file, keep going with the others
        error = f"{source}: internal error: {type(e).__name__}: {e}"
        trace = traceback.format_exc()
    return FileResult(source, target, (), "", time.perf_counter() - start, "failed", error,
                      error_params=params, traceback=trace)


class Executor(abc.ABC):
    """Runs the files of one batch run; use it as a context manager.

    The run calls :meth:`start` once, :meth:`submit` for every file, then
    iterates :meth:`results`; on Ctrl-C or an error it calls :meth:`cancel`.
    Leaving the ``with`` block releases whatever the executor holds.
    """

    def start(self, spec: RunSpec, count: int) -> None:  # noqa: B027 - optional hook
        """Receive the run's shared :class:`RunSpec`; ``count`` files will follow."""

    @abc.abstractmethod
    def submit(self, item: WorkItem) -> None:
        """Queue one file; it may start at once or when a worker is free."""

    @abc.abstractmethod
    def results(self) -> Iterator[tuple[WorkItem, FileResult]]:
        """Yield ``(item, result)`` for every submitted item, as each completes."""

    @abc.abstractmethod
    def cancel(self) -> list[tuple[WorkItem, FileResult]]:
        """Stop all work now; return the results that completed meanwhile.

        Items neither yielded nor returned are left unfinished: their outputs
        do not exist (workers remove their temporary files as they stop).
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the executor's resources (called on leaving the ``with`` block)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
