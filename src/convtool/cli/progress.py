"""Progress of a batch run on stderr: a Rich bar on a terminal, plain lines otherwise.

The library reports each finished file through ``run_batch``'s ``on_result``
callback; drawing it is the command line's job.
"""

from __future__ import annotations

import contextlib
import sys

import typer

from convtool.cli.app import render_error


class PlainProgress:
    """One line per file on stderr, for logs and pipes."""

    def __init__(self, total: int):
        self.total, self.count = total, 0

    def __call__(self, result) -> None:
        self.count += 1
        where = f"[{self.count}/{self.total}]"
        if result.status == "done":
            line = f"{where} {result.source} -> {result.target} ({result.seconds:.2f} s)"
        else:
            line = f"{where} {result.status}: {render_error(result.error, result.error_params)}"
        typer.echo(f"convtool: {line}", err=True)


def progress(total: int, *, quiet: bool = False):
    """A context giving the on_result callback: a Rich bar, plain lines, or nothing."""
    if quiet:
        return contextlib.nullcontext(None)
    if not sys.stderr.isatty():
        return contextlib.nullcontext(PlainProgress(total))
    return _rich_progress(total)


@contextlib.contextmanager
def _rich_progress(total: int):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("filtering", total=total, rate="")

        def on_result(result) -> None:
            bar.advance(task)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.1f} files/s" if speed else "")

        yield on_result
