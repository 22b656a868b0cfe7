"""The filtering commands: blur, mean, convolve, sharpen, edges.

Each command is its own option declarations plus one call to the pipeline's
job builder of the same name; :func:`filter_command` gives it the paths and the
shared options (:class:`~convtool.cli.options.Settings`), and :func:`run_filter`
runs the job on one file or, with ``--out-dir``, on many.
"""

from __future__ import annotations

import inspect
import os
import typing
from typing import Annotated

import typer

from convtool.cli import report
from convtool.cli.app import app, handles_errors
from convtool.cli.options import (
    SPEC_HELP,
    PathsArg,
    Settings,
    flag_for,
    one_of,
    settings_parameters,
)
from convtool.cli.progress import progress
from convtool.errors import ImageReadError, UsageError
from convtool.pipeline.choices import EDGE_OPERATORS


def filter_command(build_job):
    """Register a filtering command from a function that returns its FilterJob.

    ``build_job(settings, **own_options)`` declares the command's own options
    (annotated as for typer) after a first ``settings`` parameter; the
    registered command also takes the paths and every :class:`Settings` option.
    """
    hints = typing.get_type_hints(build_job, include_extras=True)
    _, *own = inspect.signature(build_job).parameters.values()
    kw = inspect.Parameter.KEYWORD_ONLY
    own = [p.replace(annotation=hints[p.name], kind=kw) for p in own]
    shared = [inspect.Parameter(name, kw, annotation=ann, default=default)
              for name, ann, default in settings_parameters()]
    shared_names = [p.name for p in shared]

    @handles_errors
    def command(**kwargs):
        settings = Settings(**{name: kwargs.pop(name) for name in shared_names})
        paths = kwargs.pop("paths")
        run_filter(build_job(settings, **kwargs), paths, settings)

    command.__name__ = build_job.__name__
    command.__doc__ = build_job.__doc__
    command.__signature__ = inspect.Signature(
        [inspect.Parameter("paths", kw, annotation=PathsArg), *own, *shared])
    app.command(name=build_job.__name__.replace("_", "-"))(command)
    return build_job


_OUT_DIR_HINT = "to filter several files or a folder, add --out-dir DIR"
_BATCH_ONLY = ("recursive", "include", "exclude", "suffix", "json_report")


def _split_paths(paths: list[str]) -> tuple[str, str]:
    if len(paths) != 2:
        msg = (f"expected INPUT and OUTPUT, got {len(paths)} path(s): "
               f"{' '.join(paths) or '(none)'}; {_OUT_DIR_HINT}")
        raise UsageError(msg)
    if os.path.isdir(paths[0]):
        msg = f"{paths[0]}: is a folder, not an image file; {_OUT_DIR_HINT}"
        raise ImageReadError(msg)
    return paths[0], paths[1]


def run_filter(job, paths: list[str], settings: Settings) -> None:
    """Run a filtering command's job on INPUT OUTPUT, or on many files with --out-dir."""
    from convtool.pipeline import process_file

    if settings.out_dir is not None:
        run_batch(job, paths, settings)
        return
    for name in _BATCH_ONLY:
        if getattr(settings, name):
            msg = f"{flag_for(name)} only applies with --out-dir"
            raise UsageError(msg)
    source, target = _split_paths(paths)
    if settings.dry_run:
        typer.echo(f"{source} -> {target}")
        return
    if settings.skip_existing and os.path.exists(target):
        if settings.verbose:
            typer.echo(f"convtool: {target}: exists, skipped", err=True)
        return
    result = process_file(job, source, target, save=settings.save_options(),
                          max_pixels=settings.max_pixels, in_place=settings.in_place)
    if settings.verbose:
        report.report_file(job.kernel, result)


def run_batch(job, paths: list[str], settings: Settings) -> None:
    """Filter many files into --out-dir: plan, refuse clashes, run, report."""
    from convtool import batch

    jobs = None if settings.jobs is None else batch.check_jobs(settings.jobs)
    plan = batch.plan_batch(
        paths, settings.out_dir, recursive=settings.recursive,
        include=settings.include or (), exclude=settings.exclude or (),
        suffix=settings.suffix, format=settings.format, skip_existing=settings.skip_existing)
    if settings.dry_run:
        report.print_plan(plan, settings)
        return
    stale = batch.stale_temp_files(settings.out_dir) if os.path.isdir(settings.out_dir) else []
    with progress(len(plan.items), quiet=settings.quiet) as on_result:
        outcome = batch.run_batch(job, plan.items, jobs=jobs, save=settings.save_options(),
                                  max_pixels=settings.max_pixels, on_result=on_result,
                                  skipped=plan.skipped)
    report.print_summary(outcome, settings, stale)
    if outcome.interrupted:
        raise typer.Exit(130)
    if outcome.failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------
# The commands: their own options, and the one library call that builds the job.
# --------------------------------------------------------------------------


@filter_command
def blur(
    settings: Settings,
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Standard deviation of the Gaussian, in pixels (> 0).")] = 1.0,
    radius: Annotated[int | None, typer.Option(
        "--radius", help="Half-width of the kernel in pixels (it is 2*radius+1 wide). "
        "Default: round(4 * sigma), as scipy.ndimage.gaussian_filter.",
        show_default=False)] = None,
):
    """Gaussian blur. The kernel reaches 4 sigma each way, as scipy.ndimage.gaussian_filter.

    Example: convtool blur photo.png blurred.png --sigma 2
    """
    from convtool.pipeline import blur_job

    return blur_job(sigma, radius, **settings.job_options())


@filter_command
def mean(
    settings: Settings,
    size: Annotated[int, typer.Option(
        "--size", help="Side of the square box, in pixels (>= 1).")] = 3,
):
    """Mean (box) filter: every output pixel is the average of a size x size box.

    Example: convtool mean photo.png smooth.png --size 5
    """
    from convtool.pipeline import mean_job

    return mean_job(size, **settings.job_options())


@filter_command
def convolve(
    settings: Settings,
    kernel: Annotated[str, typer.Option(
        "--kernel", "-k", help=SPEC_HELP, show_default=False)],
):
    """Convolve with any kernel (true convolution: the kernel is flipped; see --correlate).

    The weights are used as given (--normalize none) unless you ask otherwise.

    Example: convtool convolve photo.png out.png --kernel "1 2 1; 2 4 2; 1 2 1" --normalize auto
    """
    from convtool.pipeline import convolve_job

    return convolve_job(kernel, **settings.job_options())


@filter_command
def sharpen(
    settings: Settings,
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Standard deviation of the Gaussian blur that is subtracted, "
                              "in pixels (> 0).")] = 1.0,
    amount: Annotated[float, typer.Option(
        "--amount", help="How much of the detail (original - blurred) to add (>= 0).")] = 1.0,
    threshold: Annotated[float, typer.Option(
        "--threshold", help="Leave a value unchanged where |original - blurred| is below this, "
                            "on the 0..1 scale, so flat areas and noise are not sharpened "
                            "(per channel).")] = 0.0,
):
    """Unsharp mask: original + amount * (original - gaussian blur).

    Example: convtool sharpen photo.png sharp.png --sigma 2 --amount 0.8 --threshold 0.02
    """
    from convtool.pipeline import sharpen_job

    return sharpen_job(sigma, amount, threshold, **settings.job_options())


@filter_command
def edges(
    settings: Settings,
    operator: Annotated[str, typer.Option(
        "--operator", help=f"{one_of(EDGE_OPERATORS)}. "
        "sobel (default), scharr or prewitt: gradient magnitude "
        "hypot(x, y); laplacian (4-neighbour) or log (Laplacian of Gaussian, see --sigma): "
        "its absolute value.")] = "sobel",
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Sigma of the log operator, in pixels (> 0).")] = 1.0,
    stretch: Annotated[bool, typer.Option(
        "--stretch/--no-stretch", help="--stretch (default): divide by the image's largest "
        "response, so the strongest edge is white. --no-stretch: divide by the largest "
        "response the operator can give on any image (4*sqrt(2) for Sobel, 4 for the "
        "Laplacian): never clips and is comparable between images, but darker.")] = True,
):
    """Edge strength, written as a viewable image (black: flat, white: strongest edge).

    The response is computed per channel on the 0..1 scale; see --stretch for how
    it is brought to the output range, and --scale to brighten faint edges.

    Example: convtool edges photo.png edges.png --operator scharr
    """
    from convtool.pipeline import edges_job

    return edges_job(operator, sigma, stretch, **settings.job_options())
