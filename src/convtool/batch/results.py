"""The outcome of a batch run, and the JSON schema of ``convtool ... --json``.

:meth:`BatchReport.to_dict` (a finished run) and :meth:`BatchPlan.to_dict
<convtool.batch.BatchPlan.to_dict>` (a dry run) are the one place that schema
is written::

    {"summary": {"done": 2, "skipped": 1, "failed": 0, "interrupted": 0, "seconds": 0.41},
     "files": [{"input": "a.png", "output": "out/a.png", "status": "done",
                "error": null, "seconds": 0.2}, ...]}
"""

from __future__ import annotations

from dataclasses import dataclass

from convtool.pipeline.files import FileResult

#: Every status a finished run reports, in the order of the JSON summary.
STATUSES = ("done", "skipped", "failed", "interrupted")


def file_record(result: FileResult) -> dict:
    """One file's entry in the JSON report: input, output, status, error, seconds.

    >>> file_record(FileResult("a.png", "", (), "", 0.0, "skipped", "not an image"))
    {'input': 'a.png', 'output': None, 'status': 'skipped', 'error': 'not an image', 'seconds': 0.0}
    """
    return {"input": result.source, "output": result.target or None, "status": result.status,
            "error": result.error, "seconds": round(result.seconds, 6)}


@dataclass
class BatchReport:
    """The outcome of :func:`~convtool.batch.run_batch`: one :class:`FileResult` per file.

    Attributes
    ----------
    results : list of FileResult
        Skipped files first, then the planned files in plan order.
    seconds : float
        Wall time of the run.
    interrupted : bool
        The run was stopped (Ctrl-C); files not finished have status ``"interrupted"``.
    """

    results: list[FileResult]
    seconds: float
    interrupted: bool = False

    def count(self, status: str) -> int:
        """How many files ended with ``status``."""
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    def not_done(self) -> list[str]:
        """The inputs a stopped run did not finish, in plan order."""
        return [r.source for r in self.results if r.status == "interrupted"]

    def to_dict(self) -> dict:
        """The JSON report: ``{"summary": {...}, "files": [...]}``.

        ``summary`` counts each status (done, skipped, failed, interrupted) and
        gives the wall time in ``seconds``; ``files`` has one
        :func:`file_record` per file, in the order of :attr:`results`.
        """
        summary: dict = {status: self.count(status) for status in STATUSES}
        summary["seconds"] = round(self.seconds, 3)
        return {"summary": summary, "files": [file_record(r) for r in self.results]}
