"""The ``convtool`` command line: parse, call the library, report.

This is the only module that prints or exits. It imports typer and nothing
heavy at module level, so ``convtool --help`` starts fast: numpy, Pillow and
rich are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated

import typer

from convtool import __version__
from convtool.errors import ConvtoolError

app = typer.Typer(
    name="convtool",
    help="Exact, fast image convolution: blur, box-filter or convolve images with any kernel.",
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}

MODE_HELP = (
    "How the image is extended past its edges, extending the row 'a b c d': "
    "reflect 'd c b a | a b c d | d c b a' (default; numpy.pad calls it 'symmetric'), "
    "mirror 'd c b | a b c d | c b a' (numpy.pad's 'reflect'), "
    "nearest 'a a a | a b c d | d d d' (alias: edge), "
    "wrap 'a b c d | a b c d | a b c d', "
    "constant 'k k k | a b c d | k k k' with k = --cval."
)

InputArg = Annotated[str, typer.Argument(help="Input image file.", show_default=False)]
OutputArg = Annotated[str, typer.Argument(
    help="Output image file; its extension (.png, .jpg, .tif, .webp, ...) sets the format.",
    show_default=False)]
ModeOpt = Annotated[str, typer.Option("--mode", help=MODE_HELP)]
CvalOpt = Annotated[float, typer.Option(
    "--cval", help="Value outside the image for --mode constant, on the 0..1 scale "
                   "(0 is black, 1 is white).")]
MethodOpt = Annotated[str, typer.Option(
    "--method", help="auto (pick the faster by an estimate of cost), direct, or fft.")]
VerboseOpt = Annotated[bool, typer.Option(
    "-v", "--verbose", help="Print the kernel size and the chosen method to stderr.")]


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
            raise _fail("out of memory", 1) from None
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


def _run(kernel, source: str, target: str, mode: str, cval: float, method: str,
         verbose: bool) -> None:
    from convtool.batch import FilterJob, process_file

    job = FilterJob(kernel=kernel, mode=mode, cval=cval, method=method)
    result = process_file(job, source, target)
    if verbose:
        kh, kw = (1, *kernel.shape) if len(kernel.shape) == 1 else kernel.shape
        h, w, c = result.shape
        kind = "separable" if kernel.separable else "non-separable"
        typer.echo(f"convtool: {kernel.name}: {kw}x{kh} kernel ({kind}), "
                   f"{w}x{h} image with {c} channel(s), method {result.method}, "
                   f"{result.seconds:.3f} s", err=True)


@app.command()
@_handles_errors
def blur(
    source: InputArg,
    target: OutputArg,
    sigma: Annotated[float, typer.Option(
        "--sigma", "-s", help="Standard deviation of the Gaussian, in pixels (> 0).")] = 1.0,
    mode: ModeOpt = "reflect",
    cval: CvalOpt = 0.0,
    method: MethodOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Gaussian blur. The kernel reaches 4 sigma each way, as scipy.ndimage.gaussian_filter.

    Example: convtool blur photo.png blurred.png --sigma 2
    """
    from convtool.kernels import gaussian_kernel

    _run(gaussian_kernel(sigma), source, target, mode, cval, method, verbose)


@app.command()
@_handles_errors
def mean(
    source: InputArg,
    target: OutputArg,
    size: Annotated[int, typer.Option(
        "--size", help="Side of the square box, in pixels (>= 1).")] = 3,
    mode: ModeOpt = "reflect",
    cval: CvalOpt = 0.0,
    method: MethodOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Mean (box) filter: every output pixel is the average of a size x size box.

    Example: convtool mean photo.png smooth.png --size 5
    """
    from convtool.kernels import mean_kernel

    _run(mean_kernel(size), source, target, mode, cval, method, verbose)


@app.command()
@_handles_errors
def convolve(
    source: InputArg,
    target: OutputArg,
    kernel: Annotated[str, typer.Option(
        "--kernel", "-k", help="Kernel file: rows of numbers on lines (spaces or commas), "
                               "or a .npy array.", show_default=False)],
    normalize: Annotated[bool, typer.Option(
        "--normalize", help="Divide the kernel by the sum of its values.")] = False,
    mode: ModeOpt = "reflect",
    cval: CvalOpt = 0.0,
    method: MethodOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Convolve with a kernel read from a file (true convolution: the kernel is flipped).

    Example: convtool convolve photo.png out.png --kernel sharpen.txt
    """
    from convtool.kernels import load_kernel

    k = load_kernel(kernel)
    if normalize:
        k = k.normalized()
    _run(k, source, target, mode, cval, method, verbose)


def main() -> None:
    """Entry point of the ``convtool`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("convtool: error: interrupted\n")
        sys.exit(130)
