"""Looking at kernels: ``convtool kernels`` and ``convtool kernel show``."""

from __future__ import annotations

from typing import Annotated

import typer

from convtool.cli.app import LightGroup, app, handles_errors
from convtool.cli.completion import complete_kernel, complete_normalize
from convtool.cli.help import GroupedCommand, choices_metavar, split_examples
from convtool.cli.options import SPEC_HELP, one_of
from convtool.kernels.choices import NORMALIZE_CHOICES

kernel_app = typer.Typer(
    cls=LightGroup,
    help="Look at kernels: convtool kernel show SPEC.",
    epilog=split_examples("""Examples:
        convtool kernel show gaussian:2
        convtool kernel show sobel-x --correlate
        """)[1],
    no_args_is_help=True,
)
_SHOW_EXAMPLES = split_examples("""Examples:
    convtool kernel show gaussian:1.5 --size 4000x3000
    convtool kernel show "1 2 1; 2 4 2; 1 2 1" --normalize auto
    convtool kernel show gaussian:20 --npy g20.npy
    """)[1]
app.add_typer(kernel_app, name="kernel")


@app.command(name="kernels", epilog=split_examples("""Examples:
    convtool kernels
    convtool kernels | grep gaussian
    """)[1])
@handles_errors
def list_kernels() -> None:
    """List every named kernel and kernel spec form, with a one-line description."""
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


@kernel_app.command(name="show", cls=GroupedCommand, epilog=_SHOW_EXAMPLES)
@handles_errors
def show_kernel(
    spec: Annotated[str, typer.Argument(help=SPEC_HELP, metavar="SPEC", show_default=False,
                                        autocompletion=complete_kernel)],
    size: Annotated[str, typer.Option(
        "--size", help="Image size WIDTHxHEIGHT for which to report the method that "
                       "--method auto would choose (assuming 3 channels).",
        metavar="WxH")] = "1024x1024",
    normalize: Annotated[str, typer.Option(
        "--normalize", help=f"As for the filtering commands: {one_of(NORMALIZE_CHOICES)}.",
        metavar=choices_metavar(NORMALIZE_CHOICES), autocompletion=complete_normalize)
    ] = "none",
    correlate: Annotated[bool, typer.Option(
        "--correlate", help="Show the kernel as it is convolved for --correlate.")] = False,
    values: Annotated[bool, typer.Option(
        "--values", help="Print every value, however large the kernel (for a file or a "
                         "pipe).")] = False,
    npy: Annotated[str | None, typer.Option(
        "--npy", help="Also save the kernel's values to this .npy file (numpy.load reads "
                      "it; convtool convolve --kernel takes it).", metavar="FILE",
        show_default=False)] = None,
):
    """Show a kernel's values, size, sum, separability and the method auto would choose.

    Kernels up to 11x11 are printed as numbers; larger ones as a shaded block on a
    colour terminal, as numbers up to 25x25 otherwise (NO_COLOR, a pipe), and
    beyond that --values prints them all.
    """
    from rich.console import Console

    from convtool import engine
    from convtool.kernels import adjust_kernel, parse_kernel, parse_size

    kernel = adjust_kernel(parse_kernel(spec), normalize=normalize, correlate=correlate)
    height, width = parse_size(size)
    if npy is not None:
        _save_npy(kernel.array, npy)
    console = Console()
    _print_values(console, kernel.array, every=values)
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
        console.print(f"  column: [{_factor_text(column, every=values)}]", soft_wrap=True)
        console.print(f"  row:    [{_factor_text(row, every=values)}]", soft_wrap=True)
    else:
        console.print("separable: no")
    method = engine.choose_method((height, width, 3), kernel.array)
    console.print(f"method for a {width}x{height} RGB image: {method}")
    if npy is not None:
        console.print(f"saved: {npy}", soft_wrap=True)


_TABLE_LIMIT = 11  # kernels up to 11x11 are printed as a table of numbers
_PLAIN_LIMIT = 25  # without colour, numbers up to 25x25 (a shaded block cannot be seen)
_BLOCK_WIDTH = 48  # larger ones as a shaded block at most this many cells wide


def _factor_text(factor, *, every: bool) -> str:
    """A 1-D factor's values; past _PLAIN_LIMIT, its two ends around a count (--values: all)."""
    text = [f"{v:.4g}" for v in factor]
    if every or len(text) <= _PLAIN_LIMIT:
        return " ".join(text)
    end = _PLAIN_LIMIT // 2 - 1
    return f"{' '.join(text[:end])} ... ({len(text) - 2 * end} more) ... {' '.join(text[-end:])}"


def _save_npy(array, path: str) -> None:
    import numpy as np

    from convtool.errors import ImageWriteError

    try:
        with open(path, "wb") as f:
            np.save(f, array)
    except OSError as e:
        msg = f"--npy {path}: cannot write the file ({e.strerror or e})"
        raise ImageWriteError(msg) from None


def _value_rows(array) -> list[str]:
    """The values as right-aligned rows of text, 4 significant digits each."""
    import numpy as np

    a = np.atleast_2d(array)
    cells = [[f"{v:.4g}" for v in row] for row in a]
    width = max(len(c) for row in cells for c in row)
    return [" ".join(c.rjust(width) for c in row) for row in cells]


def _print_values(console, array, *, every: bool) -> None:
    """Numbers when they can be read; a shaded block only where colour shows it."""
    side = max(array.shape) if array.ndim else 1
    colour = console.is_terminal and console.color_system is not None and not console.no_color
    if every or side <= _TABLE_LIMIT or (not colour and side <= _PLAIN_LIMIT):
        for line in _value_rows(array):
            console.print(line, soft_wrap=True, highlight=False)
        return
    size = "x".join(str(n) for n in reversed(array.shape))
    offer = (f"--values prints all {array.size} values, --npy FILE saves them")
    if not colour:
        console.print(f"values: a {size} kernel is too big to print here; {offer}")
        return
    console.print(_shaded_block(array))
    console.print(f"values: {offer}")


def _shaded_block(array):
    """A shaded block of the values (white positive, red negative) for a colour terminal."""
    import numpy as np
    from rich.text import Text

    a = np.atleast_2d(array)
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
