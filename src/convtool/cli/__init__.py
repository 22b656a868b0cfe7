"""The ``convtool`` command line: parse options into settings, call the library, report.

This is the only package that prints or exits. It imports typer and nothing
heavy at module level, so ``convtool --help`` starts fast: numpy, Pillow and
rich are imported inside the commands that need them.

- :mod:`~convtool.cli.app`: the typer app, ``main``, error handling in one place.
- :mod:`~convtool.cli.options`: the shared options, parsed into one :class:`Settings`.
- :mod:`~convtool.cli.commands`: the filtering commands (blur, mean, convolve, ...).
- :mod:`~convtool.cli.kernel_cmds`: ``convtool kernels`` and ``convtool kernel show``.
- :mod:`~convtool.cli.help` and :mod:`~convtool.cli.completion`: help layout, shell completion.
- :mod:`~convtool.cli.report` and :mod:`~convtool.cli.progress`: what is printed.
- :mod:`~convtool.cli._typer_compat`: the only use of typer's private API.
"""

from convtool.cli import commands, completion, kernel_cmds  # noqa: F401 - they register commands
from convtool.cli.app import app, handles_errors, main

app.command(name="completion")(handles_errors(completion.completion))

__all__ = ["app", "main"]
