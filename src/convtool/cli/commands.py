"""The filtering commands: blur, mean, convolve, sharpen, edges.

Each command is its own option declarations plus one call to the pipeline's
job builder of the same name; :func:`filter_command` gives it the paths and the
shared options (:class:`~convtool.cli.options.Settings`), and :func:`run_filter`
runs the job on one file or, with ``--out-dir``, on many.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import typing
from typing import Annotated

import typer

from convtool.cli import report
from convtool.cli.app import app, echo, handles_errors, interrupted_exit
from convtool.cli.completion import complete_kernel, complete_operator
from convtool.cli.help import FILTER, GroupedCommand, choices_metavar, split_examples
from convtool.cli.options import (
    SPEC_HELP,
    PathsArg,
    Settings,
    flag_for,
    kernel_fields,
    number,
    one_of,
    settings_parameters,
    whole_number,
)
from convtool.cli.progress import progress
from convtool.errors import UsageError
from convtool.pipeline.choices import EDGE_OPERATORS


def filter_command(build_job=None, *, kernel_options: bool = True):
    """Register a filtering command from a function that returns its FilterJob.

    ``build_job(settings, **own_options)`` declares the command's own options
    (annotated as for typer) after a first ``settings`` parameter; the
    registered command also takes the paths and every :class:`Settings` option
    (but the Kernel ones when ``kernel_options`` is false: blur and mean build
    normalised, symmetric kernels, so --normalize, --correlate, --abs, --scale
    and --bias mean nothing for them). The docstring's ``Examples:`` block is
    shown after the options.
    """
    if build_job is None:
        return functools.partial(filter_command, kernel_options=kernel_options)
    hints = typing.get_type_hints(build_job, include_extras=True)
    _, *own = inspect.signature(build_job).parameters.values()
    kw = inspect.Parameter.KEYWORD_ONLY
    own = [p.replace(annotation=hints[p.name], kind=kw) for p in own]
    shared = [inspect.Parameter(name, kw, annotation=ann, default=default)
              for name, ann, default in settings_parameters()
              if kernel_options or name not in kernel_fields()]
    shared_names = [p.name for p in shared]

    @handles_errors
    def command(**kwargs):
        settings = Settings(**{name: kwargs.pop(name) for name in shared_names})
        paths = kwargs.pop("paths")
        run_filter(build_job(settings, **kwargs), paths, settings)

    help_text, examples = split_examples(build_job.__doc__)
    command.__name__ = build_job.__name__
    command.__doc__ = help_text
    command.__signature__ = inspect.Signature(
        [inspect.Parameter("paths", kw, annotation=PathsArg), *own, *shared])
    app.command(name=build_job.__name__.replace("_", "-"), cls=GroupedCommand,
                epilog=examples)(command)
    return build_job


_OUT_DIR_HINT = "to filter several files or a folder, add --out-dir DIR"
_BATCH_ONLY = ("recursive", "include", "exclude", "suffix", "json_report", "hidden")


def _split_paths(paths: list[str]) -> tuple[str, str]:
    if len(paths) != 2:
        msg = (f"expected INPUT and OUTPUT, got {len(paths)} path(s): "
               f"{' '.join(paths) or '(none)'}; {_OUT_DIR_HINT}")
        raise UsageError(msg)
    if os.path.isdir(paths[0]):
        msg = f"{paths[0]}: is a folder, not an image file; {_OUT_DIR_HINT}"
        raise UsageError(msg)
    return paths[0], paths[1]


def run_filter(job, paths: list[str], settings: Settings) -> None:
    """Run a filtering command's job on INPUT OUTPUT, or on many files with --out-dir."""
    if settings.out_dir is not None:
        run_batch(job, paths, settings)
        return
    for name in _BATCH_ONLY:
        if getattr(settings, name):
            msg = f"{flag_for(name)} only applies with --out-dir"
            raise UsageError(msg)
    source, target = _split_paths(paths)
    if settings.dry_run:
        echo(f"{source} -> {target}")
        return
    if settings.skip_existing and os.path.exists(target):
        echo(f"convtool: {target}: exists, skipped (--skip-existing)", err=True)
        return
    # The two-path rule: an existing OUTPUT is replaced only if convtool wrote it, or with
    # --overwrite, so `convtool blur *.png` over two photos cannot blur one onto the other.
    result = _process_scaled(job, source, target, settings)
    report.note_output(result, settings)
    if settings.verbose:
        report.report_file(job.kernel, result)


def _check_batch_options(paths: list[str], settings: Settings) -> None:
    from convtool.imaging import STDIO

    if settings.in_place:
        msg = ("--in-place does not apply with --out-dir: outputs go to the --out-dir folder "
               "and inputs are never modified")
        raise UsageError(msg)
    if STDIO in paths:
        msg = "'-' (stdin) cannot be an input with --out-dir: name the files, folders or patterns"
        raise UsageError(msg)


def _process_scaled(job, source: str, target: str, settings: Settings):
    """One file: in memory, or in tiles when asked or when it would not fit the memory budget."""
    from convtool import scale
    from convtool.scale import dispatch

    explicit = bool(settings.memory or settings.tiles or settings.scheduler)
    if explicit:
        scale.require_extra()  # one line naming the extra
    memory = None
    if settings.memory:  # the tiles' module only when asked (its import is ~1 ms of a run)
        from convtool.scale.tiles import parse_size

        memory = parse_size(settings.memory)
    client = None
    if settings.scheduler:
        from convtool.scale.dask_batch import connect

        client = connect(settings.scheduler)
    try:
        return dispatch.process_file(job, source, target, memory=memory, tiles=settings.tiles,
                                     max_pixels=settings.max_pixels,
                                     save=settings.save_options(), in_place=settings.in_place,
                                     overwrite=settings.overwrite or settings.in_place,
                                     client=client, explicit=explicit)
    finally:
        if client is not None:
            client.close()


def _processor(settings: Settings, items, jobs: int | None):
    """What filters each file of a batch: in memory, or in tiles as the one-file form decides.

    None (the in-memory pipeline) when the tiled path's extra is not installed
    and no flag asks for it. The memory budget (--memory, default a quarter of
    this machine's memory) is shared among the local pool's workers; on a
    cluster each file gets --memory (default a quarter of its worker's memory).
    """
    import functools

    from convtool.scale import dispatch, require_extra
    from convtool.scale.tiled_write import TIFF_EXTENSIONS
    from convtool.scale.tiles import parse_size

    explicit = bool(settings.memory or settings.tiles)
    if explicit:
        require_extra()
    elif not dispatch.extra_installed():
        return None
    if settings.tiles:
        other = next((t for _, t in items if not t.lower().endswith(TIFF_EXTENSIONS)), None)
        if other is not None:
            msg = (f"--tiles writes tiled BigTIFFs, and {other} is not a TIFF; add "
                   "--format tiff")
            raise UsageError(msg)
    memory = parse_size(settings.memory) if settings.memory else None
    if not settings.scheduler:
        from convtool.scale.outofcore import default_budget

        memory = (memory or default_budget()) // max(1, jobs or 1)
    return functools.partial(dispatch.process_file, memory=memory, tiles=settings.tiles,
                             explicit=explicit)


def _executor(settings: Settings):
    """The Dask executor for --scheduler, else None (the local pool)."""
    if not settings.scheduler:
        return None
    from convtool import scale

    scale.require_extra()
    from convtool.scale.dask_batch import DaskExecutor

    return DaskExecutor(settings.scheduler)


def run_batch(job, paths: list[str], settings: Settings) -> None:
    """Filter many files into --out-dir: plan, refuse clashes, run, report."""
    from convtool import batch

    _check_batch_options(paths, settings)
    jobs = None if settings.jobs is None else batch.check_jobs(settings.jobs)
    plan = batch.plan_batch(
        paths, settings.out_dir, recursive=settings.recursive,
        include=settings.include or (), exclude=settings.exclude or (),
        suffix=settings.suffix, format=settings.format, skip_existing=settings.skip_existing,
        hidden=settings.hidden)
    if settings.dry_run:
        report.print_plan(plan, settings)
        return
    executor = _executor(settings)
    processor = _processor(settings, plan.items, jobs or batch.check_jobs(None))
    batch.make_out_dir(settings.out_dir)
    stale = batch.stale_temp_files(settings.out_dir)
    if settings.verbose:
        report.report_kernel(job, settings)
    with progress(len(plan.items), quiet=settings.quiet) as on_result:
        outcome = batch.run_batch(job, plan.items, jobs=jobs, executor=executor,
                                  save=settings.save_options(),
                                  max_pixels=settings.max_pixels, on_result=on_result,
                                  skipped=plan.skipped, processor=processor)
    report.print_summary(outcome, settings, stale)
    if getattr(executor, "advice", None) and not settings.quiet:
        echo(f"convtool: note: {executor.advice}", err=True)
    if outcome.interrupted:
        raise typer.Exit(interrupted_exit()[1])
    if outcome.failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------
# The commands: their own options, and the one library call that builds the job.
# --------------------------------------------------------------------------


def _blur_kernel_size_note(sigma: float, radius: int | None) -> None:
    """Refuse a Gaussian with too many 2-D values with a way out: a smaller --radius.

    Bad numbers and kernels wider than any side allows are the library's to refuse.
    """
    from convtool.kernels import MAX_KERNEL_SIDE, MAX_KERNEL_TAPS

    if not (math.isfinite(sigma) and sigma > 0):
        return
    reach = round(4 * sigma) if radius is None else radius
    side = 2 * reach + 1
    if side * side > MAX_KERNEL_TAPS and side <= MAX_KERNEL_SIDE:
        most = (math.isqrt(MAX_KERNEL_TAPS) - 1) // 2
        msg = (f"--sigma {sigma:g}: a {side}x{side} kernel is too large (radius {reach}; at "
               f"most {MAX_KERNEL_TAPS} values); give --radius {most} or less (the Gaussian "
               "is cut off sooner), or shrink the image first")
        raise UsageError(msg)


@filter_command(kernel_options=False)
def blur(
    settings: Settings,
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Standard deviation of the Gaussian, in pixels (required; "
                              "0 leaves the image as it is).",
        parser=number, metavar="S", show_default=False, rich_help_panel=FILTER)],
    radius: Annotated[int | None, typer.Option(
        "--radius", help="Half-width of the kernel in pixels (it is 2*radius+1 wide, >= 1). "
        "Default: round(4 * sigma), as scipy.ndimage.gaussian_filter.",
        parser=whole_number, metavar="R", show_default=False, rich_help_panel=FILTER)] = None,
):
    """Gaussian blur. The kernel reaches 4 sigma each way, as scipy.ndimage.gaussian_filter.

    Examples:
      convtool blur photo.png blurred.png --sigma 2
      convtool blur photos/ --out-dir blurred/ --sigma 3 --recursive --jobs 4
      cat photo.png | convtool blur - - --sigma 2 --format png > blurred.png
    """
    from convtool.pipeline import blur_job

    if radius is not None and radius < 1:
        msg = f"--radius must be a whole number >= 1, got {radius} (leave it out for 4 sigma)"
        raise UsageError(msg)
    _blur_kernel_size_note(sigma, radius)
    return blur_job(sigma, radius, **settings.job_options())


@filter_command(kernel_options=False)
def mean(
    settings: Settings,
    size: Annotated[str, typer.Option(
        "--size", help="Size of the box in pixels: N for N x N, or WIDTHxHEIGHT such as 7x3 "
                       "(as in the kernel spec mean:7x3).",
        metavar="N|WxH", rich_help_panel=FILTER)] = "3",
):
    """Mean (box) filter: every output pixel is the average of a box around it.

    Examples:
      convtool mean photo.png smooth.png --size 5
      convtool mean scans/ --out-dir smooth/ --size 7x3 --include '*.tif'
      cat photo.png | convtool mean - - --size 3 --format png > smooth.png
    """
    from convtool.kernels import parse_size
    from convtool.pipeline import mean_job

    try:
        box = int(size)  # one number: the library says what a good one is
    except ValueError:
        box = parse_size(size, "size")
    return mean_job(box, **settings.job_options())


@filter_command
def convolve(
    settings: Settings,
    kernel: Annotated[str, typer.Option(
        "--kernel", "-k", help=SPEC_HELP, metavar="SPEC", autocompletion=complete_kernel,
        show_default=False, rich_help_panel=FILTER)],
):
    """Convolve with any kernel (true convolution: the kernel is flipped; see --correlate).

    The weights are used as given (--normalize none) unless you ask otherwise.

    Examples:
      convtool convolve photo.png out.png --kernel "1 2 1; 2 4 2; 1 2 1" --normalize auto
      convtool convolve photos/ --out-dir edges/ --kernel sobel-x --abs
      cat photo.png | convtool convolve - - --kernel k.npy --format png > out.png
    """
    from convtool.pipeline import convolve_job

    return convolve_job(kernel, **settings.job_options())


@filter_command
def sharpen(
    settings: Settings,
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Standard deviation of the Gaussian blur that is subtracted, "
                              "in pixels (> 0).",
        parser=number, metavar="S", rich_help_panel=FILTER)] = 1.0,
    amount: Annotated[float, typer.Option(
        "--amount", help="How much of the detail (original - blurred) to add (>= 0).",
        parser=number, metavar="A", rich_help_panel=FILTER)] = 1.0,
    threshold: Annotated[float, typer.Option(
        "--threshold", help="Leave a value unchanged where |original - blurred| is below this, "
                            "on the 0..1 scale, so flat areas and noise are not sharpened "
                            "(per channel).",
        parser=number, metavar="T", rich_help_panel=FILTER)] = 0.0,
):
    """Unsharp mask: original + amount * (original - gaussian blur).

    Examples:
      convtool sharpen photo.png sharp.png --sigma 2 --amount 0.8 --threshold 0.02
      convtool sharpen photos/ --out-dir sharp/ --sigma 1.5 --suffix _sharp
      cat photo.png | convtool sharpen - - --sigma 1 --format png > sharp.png
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
        "its absolute value.", metavar=choices_metavar(EDGE_OPERATORS),
        autocompletion=complete_operator, rich_help_panel=FILTER)] = "sobel",
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Sigma of the log operator, in pixels (> 0).",
        parser=number, metavar="S", rich_help_panel=FILTER)] = 1.0,
    stretch: Annotated[bool, typer.Option(
        "--stretch/--no-stretch", help="--stretch (default): divide by the image's largest "
        "response, so the strongest edge is white. --no-stretch: divide by the largest "
        "response the operator can give on any image (4*sqrt(2) for Sobel, 4 for the "
        "Laplacian): never clips and is comparable between images, but darker.",
        rich_help_panel=FILTER)] = True,
):
    """Edge strength, written as a viewable image (black: flat, white: strongest edge).

    The response is computed per channel on the 0..1 scale; see --stretch for how
    it is brought to the output range, and --scale to brighten faint edges.

    Examples:
      convtool edges photo.png edges.png --operator scharr
      convtool edges photos/ --out-dir edges/ --operator log --sigma 2
      cat photo.png | convtool edges - - --format png > edges.png
    """
    from convtool.pipeline import edges_job

    return edges_job(operator, sigma, stretch, **settings.job_options())
