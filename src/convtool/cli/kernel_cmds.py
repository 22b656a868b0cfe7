"""Looking at kernels: ``convtool kernels`` and ``convtool kernel show``."""

from __future__ import annotations

from typing import Annotated

import typer

from convtool.cli.app import app, handles_errors
from convtool.cli.options import SPEC_HELP, one_of
from convtool.kernels.choices import NORMALIZE_CHOICES

kernel_app = typer.Typer(
    help="Look at kernels: convtool kernel show SPEC.",
    no_args_is_help=True,
)
app.add_typer(kernel_app, name="kernel")


@app.command(name="kernels")
@handles_errors
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
@handles_errors
def show_kernel(
    spec: Annotated[str, typer.Argument(help=SPEC_HELP, show_default=False)],
    size: Annotated[str, typer.Option(
        "--size", help="Image size WIDTHxHEIGHT for which to report the method that "
                       "--method auto would choose (assuming 3 channels).")] = "1024x1024",
    normalize: Annotated[str, typer.Option(
        "--normalize", help=f"As for the filtering commands: {one_of(NORMALIZE_CHOICES)}.")
    ] = "none",
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
