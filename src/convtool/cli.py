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

import functools
import inspect
import sys
import typing
from typing import Annotated

import typer
import typer.core

from convtool import __version__
from convtool.errors import ConvtoolError, UsageError

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as _click_errors

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
        except _click_errors.NoArgsIsHelpError as e:
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

ENGINE_OPTIONS = [
    ("mode", Annotated[str, typer.Option("--mode", help=MODE_HELP, rich_help_panel=ENGINE)],
     "reflect"),
    ("cval", Annotated[float, typer.Option(
        "--cval", help="Value outside the image for --mode constant, on the 0..1 scale "
                       "(0 is black, 1 is white).", rich_help_panel=ENGINE)], 0.0),
    ("method", Annotated[str, typer.Option(
        "--method", help="auto (pick the faster by an estimate of cost), direct, or fft.",
        rich_help_panel=ENGINE)], "auto"),
]

# Kernel adjustments (normalise, scale, bias, correlate, ...): issue 4.
KERNEL_OPTIONS: list = []

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
                               "the output's extension; needed when the output is '-' (stdout).",
        rich_help_panel=OUTPUT, show_default=False)], None),
    ("quality", Annotated[int | None, typer.Option(
        "--quality", help="JPEG, WebP or AVIF quality, 1..100. Default: Pillow's (JPEG 75, "
                                "WebP 80).", rich_help_panel=OUTPUT, show_default=False)], None),
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
    ("no_clobber", Annotated[bool, typer.Option(
        "--no-clobber", help="Refuse (exit 1) to replace an existing output file. "
                                   "Default: replace it, as cp does.",
        rich_help_panel=OUTPUT)], False),
]

# Several inputs, folders, workers, progress (--out-dir, --jobs, ...): issue 5.
BATCH_OPTIONS: list = []

REPORT_OPTIONS = [
    ("verbose", Annotated[bool, typer.Option(
        "-v", "--verbose", help="Print the kernel size, the chosen method and the time "
                                "to stderr.")], False),
]

COMMON_OPTIONS = ENGINE_OPTIONS + KERNEL_OPTIONS + IMAGE_OPTIONS + BATCH_OPTIONS + REPORT_OPTIONS

PathsArg = Annotated[list[str], typer.Argument(
    help="INPUT OUTPUT: the image to read and the file to write; the output's extension "
         "(.png, .jpg, .tif, .webp, ...) sets its format. '-' reads stdin / writes stdout.",
    show_default=False, metavar="INPUT OUTPUT")]


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


def _split_paths(paths: list[str]) -> tuple[str, str]:
    if len(paths) != 2:
        msg = f"expected INPUT and OUTPUT, got {len(paths)} path(s): {' '.join(paths) or '(none)'}"
        raise UsageError(msg)
    return paths[0], paths[1]


def _run_filter(kernel, paths: list[str], options: dict) -> None:
    """Run one filtering command once its kernel is built."""
    from convtool.batch import FilterJob, process_file
    from convtool.imaging import SaveOptions

    job = FilterJob(kernel=kernel, mode=options["mode"], cval=options["cval"],
                    method=options["method"], alpha=options["alpha"], linear=options["linear"])
    save = SaveOptions(format=options["format"], quality=options["quality"],
                       compress_level=options["compress_level"],
                       keep_palette=options["keep_palette"], no_clobber=options["no_clobber"])
    source, target = _split_paths(paths)
    result = process_file(job, source, target, save=save, max_pixels=options["max_pixels"])
    if options["verbose"]:
        _report_file(kernel, result)


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
):
    """Gaussian blur. The kernel reaches 4 sigma each way, as scipy.ndimage.gaussian_filter.

    Example: convtool blur photo.png blurred.png --sigma 2
    """
    from convtool.kernels import gaussian_kernel

    return gaussian_kernel(sigma)


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


@filter_command
def convolve(
    kernel: Annotated[str, typer.Option(
        "--kernel", "-k", help="Kernel file: rows of numbers on lines (spaces or commas), "
                               "or a .npy array.", show_default=False)],
    normalize: Annotated[bool, typer.Option(
        "--normalize", help="Divide the kernel by the sum of its values.")] = False,
):
    """Convolve with a kernel read from a file (true convolution: the kernel is flipped).

    Example: convtool convolve photo.png out.png --kernel sharpen.txt
    """
    from convtool.kernels import load_kernel

    k = load_kernel(kernel)
    return k.normalized() if normalize else k


def main() -> None:
    """Entry point of the ``convtool`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("convtool: error: interrupted\n")
        sys.exit(130)
