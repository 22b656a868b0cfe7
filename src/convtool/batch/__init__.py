"""Batch runs: many files through one :class:`~convtool.pipeline.FilterJob`.

- :mod:`~convtool.batch.plan`: expand files, folders and patterns into
  ``(input, output)`` pairs and refuse clashes before any work (:func:`plan_batch`).
- :mod:`~convtool.batch.executor`: the :class:`Executor` interface (submit one
  file, yield results as they complete, cancel) and the picklable work items.
- :mod:`~convtool.batch.local`: the default executors (this process; a pool of
  local worker processes in which a dead worker fails only its file).
- :mod:`~convtool.batch.run`: :func:`run_batch`, every file through an executor.
- :mod:`~convtool.batch.results`: :class:`BatchReport` and the JSON schema.
"""

from convtool.batch.executor import Executor, RunSpec, WorkItem, run_item
from convtool.batch.local import InlineExecutor, LocalExecutor, default_jobs
from convtool.batch.plan import (
    BatchPlan,
    InputFile,
    expand_inputs,
    make_out_dir,
    output_name,
    plan_batch,
)
from convtool.batch.results import STATUSES, BatchReport, file_record
from convtool.batch.run import check_jobs, run_batch, stale_temp_files
from convtool.pipeline import FileResult

__all__ = [
    "STATUSES",
    "BatchPlan",
    "BatchReport",
    "Executor",
    "FileResult",
    "InlineExecutor",
    "InputFile",
    "LocalExecutor",
    "RunSpec",
    "WorkItem",
    "check_jobs",
    "default_jobs",
    "expand_inputs",
    "file_record",
    "make_out_dir",
    "output_name",
    "plan_batch",
    "run_batch",
    "run_item",
    "stale_temp_files",
]
