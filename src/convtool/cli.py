"""The ``convtool`` command line: parse, call the library, report.

This is the only module that prints or exits. It imports typer and nothing
heavy at module level, so ``convtool --help`` starts fast: numpy, Pillow and
rich are imported inside the commands that need them.

Every filtering command (``blur``, ``mean``, ``convolve``, ...) is a small
function that turns its own options into a :class:`~convtool.kernels.Kernel`;
:func:`filter_command` gives it the paths and the options all filtering
commands share (:data:`COMMON_OPTIONS`), and :func:`_run_filter` runs it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import sys
import typing
from typing import Annotated

import typer
import typer.core

from convtool import __version__
from convtool.errors import ConvtoolError, UsageError

# TODO(arch merge): read these from convtool.imaging.choices (TIFF_COMPRESSIONS,
# DEPTHS) in cli/options.py; this module may not import convtool.imaging yet.
TIFF_COMPRESSIONS = ("none", "lzw", "deflate", "zip", "jpeg", "packbits", "group3", "group4",
                     "zstd", "lzma")
DEPTHS = (8,)

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as _click_errors
# Older click has no NoArgsIsHelpError ("except ():" then matches nothing).
_NO_ARGS_IS_HELP = getattr(_click_errors, "NoArgsIsHelpError", ())


class _OneLineErrors(typer.core.TyperGroup):
    """Report usage errors (unknown option, missing argument) as one line on stderr."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            sys.stderr.write("convtool: error: interrupted\n")
            sys.exit(130)
        except _NO_ARGS_IS_HELP as e:
            sys.stderr.write(e.format_message() + "\n")
            sys.exit(e.exit_code)
        except _click_errors.ClickException as e:
            hint = ""
            ctx = getattr(e, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            sys.stderr.write(f"convtool: error: {e.format_message()}{hint}\n")
            sys.exit(e.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="convtool",
    help="Exact, fast image convolution: blur, box-filter or convolve images with any kernel.",
    add_completion=False,
    no_args_is_help=True,
    # Plain help: rendering it with rich costs ~0.15 s of start-up, over the 0.25 s budget.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"convtool: error: {message}", err=True)
    return typer.Exit(code)


def _handles_errors(command):
    """Turn library errors into one line on stderr and an exit code, in one place."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:  # a command's own exit code (batch: 1 if any file failed)
            raise
        except ConvtoolError as e:
            raise _fail(str(e), e.exit_code) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except MemoryError:
            raise _fail("out of memory: try a smaller image or kernel", 1) from None
        except Exception as e:
            if _state["debug"]:
                raise
            raise _fail(f"internal error: {type(e).__name__}: {e} "
                        "(run with --debug for the traceback, and please report it)", 1) from None

    return wrapper


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"convtool {__version__}")
        raise typer.Exit()


@app.callback()
def _main_options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show a traceback for unexpected errors.")] = False,
) -> None:
    """Exact, fast image convolution.

    Example: convtool blur photo.png blurred.png --sigma 2
    """
    _state["debug"] = debug


# --------------------------------------------------------------------------
# Options shared by every filtering command, grouped by what they control.
# Each group is a list of (name, annotation, default); _run_filter reads them.
# --------------------------------------------------------------------------

ENGINE = "Engine"
MODE_HELP = (
    "How the image is extended past its edges, shown for the row 'a b c d': "
    "reflect 'd c b a | a b c d | d c b a' (default; numpy.pad calls it 'symmetric'), "
    "mirror 'd c b | a b c d | c b a' (numpy.pad's 'reflect'), "
    "nearest 'a a a | a b c d | d d d' (alias: edge), "
    "wrap 'a b c d | a b c d | a b c d', "
    "constant 'k k k | a b c d | k k k' with k = --cval."
)


def _check_cval(value: float) -> float:
    # The range depends on the image (0..1 for integer images, raw values for
    # I and F), so batch.apply_job checks it; only NaN and infinity are refused here.
    if not math.isfinite(value):
        msg = f"{value} is not a finite number"
        raise typer.BadParameter(msg)
    return value


ENGINE_OPTIONS = [
    ("mode", Annotated[str, typer.Option("--mode", help=MODE_HELP, rich_help_panel=ENGINE)],
     "reflect"),
    ("cval", Annotated[float, typer.Option(
        "--cval", help="Value outside the image for --mode constant: on the 0..1 scale for "
                       "8- and 16-bit images (0 is black, 1 is white), in raw values for 32-bit "
                       "I and F images.",
        callback=_check_cval, rich_help_panel=ENGINE)], 0.0),
    ("method", Annotated[str, typer.Option(
        "--method", help="auto (pick the faster by an estimate of cost), direct, or fft.",
        rich_help_panel=ENGINE)], "auto"),
]

# Kernel adjustments (normalise, scale, bias, correlate, ...): issue 4.
KERNEL = "Kernel"
KERNEL_OPTIONS = [
    ("normalize", Annotated[str, typer.Option(
        "--normalize", help="auto: divide the kernel by its sum unless it sums to 0 (edge "
        "detectors are left alone); sum: always divide (a zero-sum kernel is an error); "
        "none (default): use the weights exactly as given, as ImageMagick, libvips, OpenCV "
        "and scipy do with user kernels. Built-in smoothing kernels are already normalised; "
        "use auto for matrices such as '1 2 1; 2 4 2; 1 2 1'.",
        rich_help_panel=KERNEL)], "none"),
    ("scale", Annotated[float, typer.Option(
        "--scale", help="Multiply every kernel weight by this, after --normalize.",
        rich_help_panel=KERNEL)], 1.0),
    ("bias", Annotated[float, typer.Option(
        "--bias", help="Add this to every output value after filtering, on the 0..1 scale "
        "(as ImageMagick's -bias and libvips's offset): e.g. 0.5 shows the negative and "
        "positive responses of a zero-sum kernel around mid-grey.",
        rich_help_panel=KERNEL)], 0.0),
    ("correlate", Annotated[bool, typer.Option(
        "--correlate", help="Correlate instead of convolve: do not flip the kernel (OpenCV's "
        "filter2D and libvips's conv correlate). The origin is as scipy.ndimage.correlate, "
        "element k//2, also for even sizes.", rich_help_panel=KERNEL)], False),
    ("absolute", Annotated[bool, typer.Option(
        "--abs", help="Write the absolute value of the response (before --bias), so edge "
        "kernels show edges of both signs.", rich_help_panel=KERNEL)], False),
    ("channels", Annotated[str | None, typer.Option(
        "--channels", help="Filter only these channels and copy the others: letters from "
        "r, g, b, a (l or r/g/b is the grey of a greyscale image), e.g. rgb, a or r,g. "
        "Default: all.", show_default=False, rich_help_panel=KERNEL)], None),
]

# Image fidelity and output format (alpha, linear light, --format, ...): issue 3.
IMAGE = "Image"
OUTPUT = "Output"
IMAGE_OPTIONS = [
    ("alpha", Annotated[str, typer.Option(
        "--alpha", help="How transparency takes part: premultiply (default: colour weighted by "
                        "alpha, so shapes on a transparent background keep their colour at the "
                        "edges), separate (every channel on its own, as most tools do; edges "
                        "darken), or ignore (colour filtered, alpha left as it was).",
        rich_help_panel=IMAGE)], "premultiply"),
    ("linear", Annotated[bool, typer.Option(
        "--linear", help="Filter in linear light: decode sRGB before, encode after (the "
                         "gamma-correct blur; bright detail keeps its brightness).",
        rich_help_panel=IMAGE)], False),
    ("max_pixels", Annotated[int | None, typer.Option(
        "--max-pixels", help="Refuse larger images, a guard against decompression bombs. "
                             "Default: Pillow's limit, 89478485 pixels.",
        rich_help_panel=IMAGE, show_default=False)], None),
    ("format", Annotated[str | None, typer.Option(
        "--format", help="Output format (png, jpeg, tiff, webp, gif, ...). Default: from "
                               "the output's extension; needed when the output is '-' (stdout). "
                               "With --out-dir the outputs get its extension.",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("quality", Annotated[int | None, typer.Option(
        "--quality", help="JPEG, WebP, AVIF or JPEG-compressed TIFF quality, 1..100. Default: "
                          "a JPEG input's own tables; else Pillow's (JPEG 75, WebP 80).",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("compression", Annotated[str | None, typer.Option(
        "--compression", help=f"TIFF compression: {' | '.join(TIFF_COMPRESSIONS)}. Default: a "
                              "TIFF input's own (a G4 fax stays G4 while it stays bilevel, else "
                              "deflate); other inputs: none. group3/group4 hold bilevel images "
                              "(--keep-palette), jpeg 8-bit ones (takes --quality).",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("background", Annotated[str | None, typer.Option(
        "--background", help="Flatten transparency onto this colour (a name such as white, or "
                             "#rrggbb) before writing, as formats without alpha (JPEG, BMP, "
                             "PPM) need. Default: keep alpha; such formats then refuse it.",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("depth", Annotated[int | None, typer.Option(
        "--depth", help=f"{' | '.join(map(str, DEPTHS))}: write 16-bit and float images with 8 "
                        "bits per channel, as JPEG, WebP and other 8-bit formats need (floats "
                        "are taken on the 0..1 scale). Default: keep the depth; 8-bit formats "
                        "then refuse such images.",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("compress_level", Annotated[int | None, typer.Option(
        "--compress-level", help="PNG zlib level, 0 (none, fastest) to 9 (smallest, slowest). "
                                 "Default 3: encodes about 3x faster than Pillow's 6, "
                                 "files ~17% larger.",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("keep_palette", Annotated[bool, typer.Option(
        "--keep-palette", help="Write palette (P) images back as palette images, requantised to "
                               "at most 256 colours, and 1-bit images as 1-bit (threshold 50%). "
                               "Default: write them as RGB/RGBA and greyscale.",
        rich_help_panel=OUTPUT)], False),
    ("in_place", Annotated[bool, typer.Option(
        "--in-place", help="Allow OUTPUT to be the INPUT file itself, which is then replaced "
                           "(atomically, once the new image is complete). Without it, naming "
                           "the input as the output is refused.",
        rich_help_panel=OUTPUT)], False),
    ("no_clobber", Annotated[bool, typer.Option(
        "--no-clobber", help="Refuse (exit 1) to replace an existing output file. "
                                   "Default: replace it, as cp does.",
        rich_help_panel=OUTPUT)], False),
]

# Several inputs, folders, workers, progress (--out-dir, --jobs, ...): issue 5.
BATCH = "Batch"
BATCH_OPTIONS = [
    ("out_dir", Annotated[str | None, typer.Option(
        "--out-dir", help="Folder for the outputs: every path is then an input (file, folder "
                          "or glob pattern) and each output keeps its input's name. Created "
                          "if missing.", rich_help_panel=BATCH, show_default=False)], None),
    ("recursive", Annotated[bool, typer.Option(
        "--recursive", "-r", help="Also take the images in sub-folders, and keep the "
                                  "sub-folders in --out-dir.", rich_help_panel=BATCH)], False),
    ("include", Annotated[list[str] | None, typer.Option(
        "--include", help="Only take files whose name or relative path matches this glob "
                          "pattern, e.g. '*.jpg' (repeatable).", rich_help_panel=BATCH,
        show_default=False)], None),
    ("exclude", Annotated[list[str] | None, typer.Option(
        "--exclude", help="Leave out files whose name or relative path matches this glob "
                          "pattern (repeatable).", rich_help_panel=BATCH,
        show_default=False)], None),
    ("suffix", Annotated[str, typer.Option(
        "--suffix", help="Add this to each output's name before the extension, "
                         "e.g. _blur.", rich_help_panel=BATCH)], ""),
    ("jobs", Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Worker processes for several files (default: the number of "
                             "cores); 1 filters in the main process.", rich_help_panel=BATCH,
        show_default=False)], None),
    ("skip_existing", Annotated[bool, typer.Option(
        "--skip-existing", help="Leave outputs that already exist alone (resume an "
                                "interrupted run). Default: overwrite, like cp.",
        rich_help_panel=BATCH)], False),
    ("dry_run", Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be written (INPUT -> OUTPUT) on stdout, and "
                          "do nothing.", rich_help_panel=BATCH)], False),
    ("quiet", Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress and no summary: print only failures.",
        rich_help_panel=BATCH)], False),
    ("json_report", Annotated[bool, typer.Option(
        "--json", help="Write a JSON report to stdout: a summary and one record per file "
                       "(input, output, status, error, seconds).", rich_help_panel=BATCH)],
     False),
]

REPORT_OPTIONS = [
    ("verbose", Annotated[bool, typer.Option(
        "-v", "--verbose", help="Print the kernel size, the chosen method and the time "
                                "to stderr.")], False),
]

COMMON_OPTIONS = ENGINE_OPTIONS + KERNEL_OPTIONS + IMAGE_OPTIONS + BATCH_OPTIONS + REPORT_OPTIONS

PathsArg = Annotated[list[str], typer.Argument(
    help="INPUT OUTPUT: the image to read and the file to write; the output's extension "
         "(.png, .jpg, .tif, .webp, ...) sets its format; '-' reads stdin / writes stdout. "
         "With --out-dir: any number of input files, folders and glob patterns.",
    show_default=False, metavar="INPUT OUTPUT | INPUTS... --out-dir DIR")]


def filter_command(make_kernel):
    """Register a filtering command built from a function that returns its kernel.

    ``make_kernel`` takes the command's own options (annotated as for typer)
    and returns a :class:`~convtool.kernels.Kernel`. The registered command
    also takes the input and output paths and :data:`COMMON_OPTIONS`.
    """
    own = inspect.signature(make_kernel)
    hints = typing.get_type_hints(make_kernel, include_extras=True)
    own_params = [p.replace(annotation=hints[p.name]) for p in own.parameters.values()]
    kw = inspect.Parameter.KEYWORD_ONLY
    common = [inspect.Parameter(name, kw, annotation=ann, default=default)
              for name, ann, default in COMMON_OPTIONS]
    paths = inspect.Parameter("paths", kw, annotation=PathsArg)
    own_names = [p.name for p in own_params]

    @_handles_errors
    def command(**kwargs):
        kernel_args = {name: kwargs.pop(name) for name in own_names}
        paths = kwargs.pop("paths")
        kernel = make_kernel(**kernel_args)
        _run_filter(kernel, paths, kwargs)

    command.__name__ = make_kernel.__name__
    command.__doc__ = make_kernel.__doc__
    command.__signature__ = inspect.Signature(
        [paths] + [p.replace(kind=kw) for p in own_params] + common)
    app.command(name=make_kernel.__name__.replace("_", "-"))(command)
    return make_kernel


_OUT_DIR_HINT = "to filter several files or a folder, add --out-dir DIR"
_BATCH_ONLY = {"recursive": "--recursive", "include": "--include", "exclude": "--exclude",
               "suffix": "--suffix", "json_report": "--json"}


def _split_paths(paths: list[str]) -> tuple[str, str]:
    import os

    if len(paths) != 2:
        msg = (f"expected INPUT and OUTPUT, got {len(paths)} path(s): "
               f"{' '.join(paths) or '(none)'}; {_OUT_DIR_HINT}")
        raise UsageError(msg)
    if os.path.isdir(paths[0]):
        from convtool.errors import ImageReadError

        msg = f"{paths[0]}: is a folder, not an image file; {_OUT_DIR_HINT}"
        raise ImageReadError(msg)
    return paths[0], paths[1]


def _kernel_fields(made, options: dict) -> dict:
    """FilterJob fields from what a filter command returned and the Kernel options.

    A command returns its Kernel, or a dict of FilterJob fields when it is more
    than one convolution (``edges``: ``kernel_y``; ``sharpen``: ``threshold``).
    """
    from convtool.kernels import adjust_kernel

    fields = dict(made) if isinstance(made, dict) else {"kernel": made}
    for key in ("kernel", "kernel_y"):
        if fields.get(key) is not None:
            fields[key] = adjust_kernel(fields[key], normalize=options["normalize"],
                                        scale=options["scale"], correlate=options["correlate"])
    fields["absolute"] = fields.get("absolute", False) or options["absolute"]
    fields["bias"] = options["bias"]
    fields["channels"] = options["channels"]
    return fields


def _run_filter(kernel, paths: list[str], options: dict) -> None:
    """Run one filtering command once its kernel is built."""
    from convtool.batch import FilterJob, process_file
    from convtool.imaging import SaveOptions

    job = FilterJob(**_kernel_fields(kernel, options), mode=options["mode"],
                    cval=options["cval"], method=options["method"], alpha=options["alpha"],
                    linear=options["linear"])
    save = SaveOptions(format=options["format"], quality=options["quality"],
                       compress_level=options["compress_level"],
                       keep_palette=options["keep_palette"], no_clobber=options["no_clobber"],
                       compression=options["compression"], background=options["background"],
                       depth=options["depth"])
    if options["out_dir"] is not None:
        _run_batch(job, paths, options, save)
        return
    for name, flag in _BATCH_ONLY.items():
        if options[name]:
            msg = f"{flag} only applies with --out-dir"
            raise UsageError(msg)
    source, target = _split_paths(paths)
    if options["dry_run"]:
        typer.echo(f"{source} -> {target}")
        return
    if options["skip_existing"]:
        import os

        if os.path.exists(target):
            if options["verbose"]:
                typer.echo(f"convtool: {target}: exists, skipped", err=True)
            return
    result = process_file(job, source, target, save=save, max_pixels=options["max_pixels"],
                          in_place=options["in_place"])
    if options["verbose"]:
        _report_file(job.kernel, result)


def _run_batch(job, paths: list[str], options: dict, save) -> None:
    """Filter many files into --out-dir: plan, refuse clashes, run, report."""
    from convtool import batch

    jobs = options["jobs"]
    if jobs is not None and jobs < 1:
        msg = f"--jobs must be a whole number >= 1, got {jobs}"
        raise UsageError(msg)
    plan = batch.plan_batch(
        paths, options["out_dir"], recursive=options["recursive"],
        include=options["include"] or (), exclude=options["exclude"] or (),
        suffix=options["suffix"], format=options["format"],
        skip_existing=options["skip_existing"])
    if options["dry_run"]:
        _print_plan(plan, options)
        return
    stale = batch.stale_temp_files(options["out_dir"]) if _isdir(options["out_dir"]) else []
    with _progress(len(plan.items), options) as on_result:
        report = batch.run_batch(job, plan.items, jobs=jobs, save=save,
                                 max_pixels=options["max_pixels"],
                                 on_result=on_result, skipped=plan.skipped)
    _print_summary(report, options, stale)
    if report.interrupted:
        raise typer.Exit(130)
    if report.failed:
        raise typer.Exit(1)


def _isdir(path) -> bool:
    import os

    return os.path.isdir(path)


def _record(result) -> dict:
    return {"input": result.source, "output": result.target or None, "status": result.status,
            "error": result.error, "seconds": round(result.seconds, 6)}


def _print_plan(plan, options) -> None:
    if options["json_report"]:
        import json

        files = [_record(r) for r in plan.skipped]
        files += [{"input": s, "output": t, "status": "planned", "error": None, "seconds": 0.0}
                  for s, t in plan.items]
        summary = {"planned": len(plan.items), "skipped": len(plan.skipped)}
        typer.echo(json.dumps({"summary": summary, "files": files}, indent=2))
        return
    for r in plan.skipped:
        typer.echo(f"{r.source}: skipped: {r.error}")
    for source, target in plan.items:
        typer.echo(f"{source} -> {target}")
    if not options["quiet"]:
        typer.echo(f"convtool: dry run: {len(plan.items)} file(s) to filter, "
                   f"{len(plan.skipped)} skipped", err=True)


def _failure_line(result) -> str:
    error = result.error or "failed"
    if result.source not in error:
        error = f"{result.source}: {error}"
    return f"convtool: error: {error}"


class _PlainProgress:
    """One line per file on stderr, for logs and pipes."""

    def __init__(self, total: int):
        self.total, self.count = total, 0

    def __call__(self, result) -> None:
        self.count += 1
        where = f"[{self.count}/{self.total}]"
        if result.status == "done":
            line = f"{where} {result.source} -> {result.target} ({result.seconds:.2f} s)"
        else:
            line = f"{where} {result.status}: {result.error}"
        typer.echo(f"convtool: {line}", err=True)


def _progress(total: int, options):
    """A context giving the on_result callback: a Rich bar, plain lines, or nothing."""
    if options["quiet"]:
        return contextlib.nullcontext(None)
    if not sys.stderr.isatty():
        return contextlib.nullcontext(_PlainProgress(total))
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
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task("filtering", total=total, rate="")

        def on_result(result) -> None:
            progress.advance(task)
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.1f} files/s" if speed else "")

        yield on_result


_NOT_DONE_LISTED = 10  # after Ctrl-C, the files not done are named up to this many


def _print_summary(report, options, stale) -> None:
    import os

    for result in report.failed:
        typer.echo(_failure_line(result), err=True)
    if options["json_report"]:
        import json

        summary = {s: report.count(s) for s in ("done", "skipped", "failed", "interrupted")}
        summary["seconds"] = round(report.seconds, 3)
        files = [_record(r) for r in report.results]
        typer.echo(json.dumps({"summary": summary, "files": files}, indent=2))
    if report.interrupted:
        typer.echo(f"convtool: interrupted: {report.count('interrupted')} file(s) not done; "
                   "run again with --skip-existing to finish", err=True)
        not_done = [r.source for r in report.results if r.status == "interrupted"]
        for source in not_done[:_NOT_DONE_LISTED]:
            typer.echo(f"convtool: not done: {source}", err=True)
        if len(not_done) > _NOT_DONE_LISTED:
            typer.echo(f"convtool: ... and {len(not_done) - _NOT_DONE_LISTED} more "
                       "(--json lists them all)", err=True)
    if options["quiet"]:
        return
    done = report.count("done")
    rate = f", {done / report.seconds:.1f} files/s" if done and report.seconds > 0 else ""
    typer.echo(f"convtool: {done} done, {report.count('skipped')} skipped, "
               f"{len(report.failed)} failed in {report.seconds:.1f} s{rate}", err=True)
    if stale:
        typer.echo(f"convtool: note: {len(stale)} temporary file(s) from an earlier run that was "
                   f"killed are in {options['out_dir']} ({os.path.basename(stale[0])}, ...); "
                   "they are safe to delete", err=True)


def _report_file(kernel, result) -> None:
    kh, kw = (1, *kernel.shape) if len(kernel.shape) == 1 else kernel.shape
    h, w, c = result.shape
    kind = "separable" if kernel.separable else "non-separable"
    typer.echo(f"convtool: {result.source}: {kernel.name}, {kw}x{kh} kernel ({kind}), "
               f"{w}x{h} image with {c} channel(s), method {result.method}, "
               f"{result.seconds:.3f} s", err=True)


# --------------------------------------------------------------------------
# Filtering commands.
# --------------------------------------------------------------------------


@filter_command
def blur(
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
    from convtool.kernels import gaussian_kernel

    return gaussian_kernel(sigma, radius)


@filter_command
def mean(
    size: Annotated[int, typer.Option(
        "--size", help="Side of the square box, in pixels (>= 1).")] = 3,
):
    """Mean (box) filter: every output pixel is the average of a size x size box.

    Example: convtool mean photo.png smooth.png --size 5
    """
    from convtool.kernels import mean_kernel

    return mean_kernel(size)


SPEC_HELP = (
    "Kernel spec: a name such as gaussian:2, gaussian:3x1, mean:7x3, sobel-x, "
    "laplacian:8, disk:3, motion:length=9,angle=30, log:2 (list: convtool kernels); "
    "an inline matrix '1 2 1; 2 4 2; 1 2 1' (rows split by ';'); or a file "
    "(@path or a path: text, CSV, .npy, libvips .mat). Sizes are WIDTHxHEIGHT, as "
    "image sizes (the Python API takes (height, width), as numpy)."
)


@filter_command
def convolve(
    kernel: Annotated[str, typer.Option(
        "--kernel", "-k", help=SPEC_HELP, show_default=False)],
):
    """Convolve with any kernel (true convolution: the kernel is flipped; see --correlate).

    The weights are used as given (--normalize none) unless you ask otherwise.

    Example: convtool convolve photo.png out.png --kernel "1 2 1; 2 4 2; 1 2 1" --normalize auto
    """
    from convtool.kernels import parse_kernel

    return parse_kernel(kernel)


@filter_command
def sharpen(
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
    from convtool.kernels import unsharp_kernel

    if not threshold >= 0:
        msg = f"--threshold must be a number >= 0, got {threshold}"
        raise UsageError(msg)
    return {"kernel": unsharp_kernel(sigma, amount), "threshold": amount * threshold}


EDGE_OPERATORS = ("sobel", "scharr", "prewitt", "laplacian", "log")


@filter_command
def edges(
    operator: Annotated[str, typer.Option(
        "--operator", help="sobel (default), scharr or prewitt: gradient magnitude "
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
    import math

    from convtool import kernels

    name = operator.strip().lower()
    if name in ("laplacian", "log"):
        k = kernels.laplacian_kernel(4) if name == "laplacian" else kernels.log_kernel(sigma)
        bound = 1.0 if stretch else kernels.response_bound(k)
        return {"kernel": k.scaled(1.0 / bound), "absolute": True, "stretch": stretch}
    if name not in kernels.GRADIENT_SMOOTHING:
        msg = f"unknown --operator {operator!r}: choose one of {', '.join(EDGE_OPERATORS)}"
        raise UsageError(msg)
    kx, ky = kernels.gradient_kernel(name, "x"), kernels.gradient_kernel(name, "y")
    bound = 1.0
    if not stretch:
        bound = math.hypot(kernels.response_bound(kx), kernels.response_bound(ky))
    return {"kernel": kx.scaled(1.0 / bound), "kernel_y": ky.scaled(1.0 / bound),
            "stretch": stretch}


# --------------------------------------------------------------------------
# Looking at kernels: convtool kernels, convtool kernel show.
# --------------------------------------------------------------------------

kernel_app = typer.Typer(
    help="Look at kernels: convtool kernel show SPEC.",
    no_args_is_help=True,
)
app.add_typer(kernel_app, name="kernel")


@app.command(name="kernels")
@_handles_errors
def list_kernels() -> None:
    """List every named kernel and kernel spec form, with a one-line description.

    Example: convtool kernels
    """
    from rich.console import Console
    from rich.table import Table

    from convtool.kernels import NAMED_KERNELS, SPEC_FORMS

    table = Table(title="Kernel specs (sizes are WIDTHxHEIGHT)")
    table.add_column("spec", style="bold")
    table.add_column("parameters")
    table.add_column("description")
    for entry in NAMED_KERNELS.values():
        params = ", ".join(p.name + ("" if p.required else "?") for p in entry.params)
        table.add_row(entry.example.replace(", ", "\n"), params or "-", entry.description)
    for form, description in SPEC_FORMS:
        table.add_row(form, "-", description)
    Console().print(table)


@kernel_app.command(name="show")
@_handles_errors
def show_kernel(
    spec: Annotated[str, typer.Argument(help=SPEC_HELP, show_default=False)],
    size: Annotated[str, typer.Option(
        "--size", help="Image size WIDTHxHEIGHT for which to report the method that "
                       "--method auto would choose (assuming 3 channels).")] = "1024x1024",
    normalize: Annotated[str, typer.Option(
        "--normalize", help="As for the filtering commands: auto, sum or none.")] = "none",
    correlate: Annotated[bool, typer.Option(
        "--correlate", help="Show the kernel as it is convolved for --correlate.")] = False,
):
    """Show a kernel's values, size, sum, separability and the method auto would choose.

    Example: convtool kernel show gaussian:1.5 --size 4000x3000
    """
    from rich.console import Console

    from convtool import engine
    from convtool.kernels import adjust_kernel, parse_kernel, parse_size

    kernel = adjust_kernel(parse_kernel(spec), normalize=normalize, correlate=correlate)
    height, width = parse_size(size)
    console = Console()
    # A value table is never cut with an ellipsis: widen the console to fit it.
    cells = [f"{v:.4g}" for v in kernel.array.ravel()]
    needed = (max(map(len, cells)) + 2) * (kernel.shape[-1] if kernel.array.ndim else 1) + 2
    if needed > console.width and max(kernel.shape) <= _TABLE_LIMIT:
        console = Console(width=needed)
    console.print(_kernel_renderable(kernel.array))
    kh, kw = (1, *kernel.shape) if len(kernel.shape) == 1 else kernel.shape
    console.print(f"name: {kernel.name}")
    console.print(f"size: {kw}x{kh} (width x height), {kernel.array.size} values")
    zero = " (zero-sum: --normalize auto leaves it alone)" if kernel.zero_sum else ""
    console.print(f"sum: {kernel.sum:.6g}{zero}")
    if kernel.offset:
        console.print(f"offset: {kernel.offset:.6g} (added to every output value, 0..1 scale)")
    if kernel.separable:
        column, row = kernel.factors
        console.print("separable: yes, column x row")
        console.print(f"  column: [{' '.join(f'{v:.4g}' for v in column)}]")
        console.print(f"  row:    [{' '.join(f'{v:.4g}' for v in row)}]")
    else:
        console.print("separable: no")
    method = engine.choose_method((height, width, 3), kernel.array)
    console.print(f"method for a {width}x{height} RGB image: {method}")


_TABLE_LIMIT = 11  # kernels up to 11x11 are printed as numbers
_BLOCK_WIDTH = 48  # larger ones as a shaded block at most this many cells wide


def _kernel_renderable(array):
    """A Rich table of the values, or a shaded block (white positive, red negative)."""
    import numpy as np
    from rich.table import Table
    from rich.text import Text

    a = np.atleast_2d(array)
    if max(a.shape) <= _TABLE_LIMIT:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for _ in range(a.shape[1]):
            table.add_column(justify="right")
        for row in a:
            table.add_row(*(f"{v:.4g}" for v in row))
        return table
    step = -(-max(a.shape) // _BLOCK_WIDTH)
    shown = a[::step, ::step]
    peak = float(np.abs(a).max()) or 1.0
    text = Text()
    for row in shown:
        for v in row:
            level = round(255 * min(abs(float(v)) / peak, 1.0))
            colour = f"rgb({level},{level},{level})" if v >= 0 else f"rgb({level},0,0)"
            text.append("  ", style=f"on {colour}")
        text.append("\n")
    note = f" (every {step}th value)" if step > 1 else ""
    text.append(f"shaded: white = largest positive, red = negative{note}")
    return text


def main() -> None:
    """Entry point of the ``convtool`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("convtool: error: interrupted\n")
        sys.exit(130)
