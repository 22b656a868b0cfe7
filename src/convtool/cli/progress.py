"""Progress of a batch run on stderr: a Rich bar on a terminal, plain lines otherwise.

The library reports each finished file through ``run_batch``'s ``on_result``
callback; drawing it is the command line's job.
"""

from __future__ import annotations

import contextlib
import sys

from convtool.cli.app import echo, render_error


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
        echo(f"convtool: {line}", err=True)


def progress(total: int, *, quiet: bool = False):
    """A context giving the on_result callback: a Rich bar, plain lines, or nothing."""
    if quiet:
        return contextlib.nullcontext(None)
    if not sys.stderr.isatty():
        return contextlib.nullcontext(PlainProgress(total))
    return _rich_progress(total)


_NARROW = 80  # below this many columns the bar drops the rate and the elapsed time


def _columns(width: int) -> list:
    """The bar's columns: the file just finished, the bar, done/total, failures, time left.

    Every column has a bounded width, so the line stays whole in a 50-column terminal.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    name = TextColumn("{task.fields[name]}", table_column=Column(
        width=max(8, min(24, width // 4)), no_wrap=True, overflow="ellipsis"))
    failed = TextColumn("[red]{task.fields[failed]}")
    if width < _NARROW:
        return [name, BarColumn(bar_width=8), MofNCompleteColumn(), failed,
                TimeRemainingColumn()]
    return [name, BarColumn(), MofNCompleteColumn(), failed, TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]


@contextlib.contextmanager
def _rich_progress(total: int):
    import os

    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(*_columns(console.width), console=console, transient=False) as bar:
        task = bar.add_task("filtering", total=total, rate="", name="", failed="")
        failures = 0

        def on_result(result) -> None:
            nonlocal failures
            failures += result.status == "failed"
            bar.advance(task)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.1f} files/s" if speed else "",
                       name=os.path.basename(result.source),
                       failed=f"{failures} failed" if failures else "")

        yield on_result
