"""How ``--help`` looks: options in named sections, choices shown, examples at the end.

Help is plain text drawn by typer's click (rendering it with rich would cost
~0.15 s of start-up). Each option names its section in ``rich_help_panel``;
:class:`GroupedCommand` writes one section per name, in :data:`SECTIONS` order,
with the first column aligned across sections. A command's docstring ends with
an ``Examples:`` block, which :func:`split_examples` moves below the options.
"""

from __future__ import annotations

import inspect

import typer.core

FILTER = "Filter"
KERNEL = "Kernel"
IMAGE = "Image and output"
BATCH = "Batch"
ENGINE = "Engine"
SCALE = "Large images and clusters (pip install 'convtool[dask]')"
OTHER = "Other"
#: Sections in the order a newcomer needs them: what the command does first.
SECTIONS = ("Arguments", FILTER, KERNEL, IMAGE, BATCH, SCALE, ENGINE, OTHER)

_COLUMN_MAX = 30  # widest first column (flags and value); longer ones go on their own line
_EXAMPLES = "Examples:"

#: How wide help may grow on a wide terminal (click's default is 80).
MAX_HELP_WIDTH = 160


def choices_metavar(choices) -> str:
    """``[a|b|c]``: the value of a choice option, as the help shows it.

    >>> choices_metavar(("auto", "direct", "fft"))
    '[auto|direct|fft]'
    """
    return "[" + "|".join(choices) + "]"


def split_examples(doc: str | None) -> tuple[str, str | None]:
    """Split a docstring into its help text and an epilog holding its ``Examples:`` block.

    The example lines are kept as written (click's ``\\b`` marker stops rewrapping).

    >>> split_examples("Blur.\\n\\nExamples:\\n  convtool blur a.png b.png --sigma 2\\n")
    ('Blur.', 'Examples:\\n\\n\\x08\\nconvtool blur a.png b.png --sigma 2')
    """
    text = inspect.cleandoc(doc or "")
    body, found, examples = text.partition(_EXAMPLES)
    if not found:
        return text, None
    lines = [line.strip() for line in examples.strip().splitlines() if line.strip()]
    return body.strip(), _EXAMPLES + "\n\n\b\n" + "\n".join(lines)


def _section_of(param) -> str:
    if param.param_type_name == "argument":
        return "Arguments"
    return getattr(param, "rich_help_panel", None) or OTHER


class GroupedCommand(typer.core.TyperCommand):
    """A command whose help lists its options in named sections."""

    def format_options(self, ctx, formatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(_section_of(param), []).append(record)
        fitting = [len(first) for rows in sections.values() for first, _ in rows
                   if len(first) <= _COLUMN_MAX]
        column = max(fitting, default=_COLUMN_MAX)
        order = {name: i for i, name in enumerate(SECTIONS)}
        for name in sorted(sections, key=lambda n: order.get(n, len(SECTIONS))):
            rows = [(first.ljust(column), text) for first, text in sections[name]]
            with formatter.section(name):
                # The same first column in every section; a longer entry gets its own line.
                formatter.write_dl(rows, col_max=column)
