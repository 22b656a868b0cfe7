"""What the filtering commands print: failures, the summary, JSON, dry runs, -v lines.

The JSON is the library's (:meth:`convtool.batch.BatchReport.to_dict`,
:meth:`convtool.batch.BatchPlan.to_dict`); this module only prints it.
"""

from __future__ import annotations

import os

import typer

from convtool.cli.app import debugging, echo, interrupted_exit, render_error
from convtool.cli.options import Settings

_NOT_DONE_LISTED = 10  # after Ctrl-C, the files not done are named up to this many


def print_json(data: dict) -> None:
    import json  # only for --json: ~2 ms of every start-up otherwise

    typer.echo(json.dumps(data, indent=2))


def failure_line(result) -> str:
    """``convtool: error: SOURCE: why`` for a failed file, in the command line's words."""
    error = render_error(result.error or "failed", result.error_params)
    if result.source not in error:
        error = f"{result.source}: {error}"
    return f"convtool: error: {error}"


def print_plan(plan, settings: Settings) -> None:
    """A dry run: what would be written, as lines or JSON, on stdout."""
    if settings.json_report:
        print_json(plan.to_dict())
        return
    for r in plan.skipped:
        echo(f"{r.source}: skipped: {r.error}")
    for source, target in plan.items:
        echo(f"{source} -> {target}")
    if not settings.quiet:
        echo(f"convtool: dry run: {len(plan.items)} file(s) to filter, "
                   f"{len(plan.skipped)} skipped", err=True)


def _print_failures(report) -> None:
    for result in report.failed:
        echo(failure_line(result), err=True)
        if result.traceback and debugging():
            for line in result.traceback.rstrip("\n").splitlines():
                echo(line, err=True)


def _print_not_done(report) -> None:
    echo(f"convtool: {interrupted_exit()[0]}: {report.count('interrupted')} file(s) not done; "
               "run again with --skip-existing to finish", err=True)
    not_done = report.not_done()
    for source in not_done[:_NOT_DONE_LISTED]:
        echo(f"convtool: not done: {source}", err=True)
    if len(not_done) > _NOT_DONE_LISTED:
        echo(f"convtool: ... and {len(not_done) - _NOT_DONE_LISTED} more "
                   "(--json lists them all)", err=True)


def print_summary(report, settings: Settings, stale) -> None:
    """After a batch run: failures (with tracebacks under --debug), JSON, counts, notes."""
    _print_failures(report)
    if settings.json_report:
        print_json(report.to_dict())
    if report.interrupted:
        _print_not_done(report)
    if settings.quiet:
        return
    done = report.count("done")
    rate = f", {done / report.seconds:.1f} files/s" if done and report.seconds > 0 else ""
    echo(f"convtool: {done} done, {report.count('skipped')} skipped, "
               f"{len(report.failed)} failed in {report.seconds:.1f} s{rate}", err=True)
    if stale:
        echo(f"convtool: note: {len(stale)} temporary file(s) from an earlier run that was "
                   f"killed are in {settings.out_dir} ({os.path.basename(stale[0])}, ...); "
                   "they are safe to delete", err=True)


def report_file(kernel, result) -> None:
    """The -v line for one file: kernel, image, method, time."""
    kh, kw = (1, *kernel.shape) if len(kernel.shape) == 1 else kernel.shape
    h, w, c = result.shape
    kind = "separable" if kernel.separable else "non-separable"
    echo(f"convtool: {result.source}: {kernel.name}, {kw}x{kh} kernel ({kind}), "
               f"{w}x{h} image with {c} channel(s), method {result.method}, "
               f"{result.seconds:.3f} s", err=True)


_ICO_SIDE = 256  # the largest image an ICO file holds


def note_output(result, settings: Settings) -> None:
    """Say what the output format did to the image that the user did not ask for."""
    from convtool.imaging import output_format

    if not result.shape or result.target == "-":
        return
    h, w = result.shape[:2]
    if output_format(result.target, settings.format) == "ICO" and max(h, w) > _ICO_SIDE:
        typer.echo(f"convtool: note: {result.target}: ICO holds at most {_ICO_SIDE}x{_ICO_SIDE} "
                   f"pixels; the {w}x{h} image was shrunk to fit", err=True)


def report_kernel(job, settings: Settings) -> None:
    """The -v line of a batch run, printed once: the kernel and how the method is chosen."""
    kernel = job.kernel
    kh, kw = (1, *kernel.shape) if len(kernel.shape) == 1 else kernel.shape
    kind = "separable" if kernel.separable else "non-separable"
    how = ("auto: direct or fft by each image's size" if settings.method == "auto"
           else settings.method)
    extra = " (and its y-kernel)" if getattr(job, "kernel_y", None) is not None else ""
    typer.echo(f"convtool: {kernel.name}, {kw}x{kh} kernel ({kind}){extra}, method {how}",
               err=True)
