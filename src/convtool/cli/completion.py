"""Shell completion: ``convtool completion SHELL`` and the values offered on Tab.

:func:`completion` is registered as a command by :mod:`convtool.cli`. A
shell asks for completions by running convtool with ``_CONVTOOL_COMPLETE``
set (the scripts typer writes do this); :func:`convtool.cli.app.main` registers
the shells' completion classes only then, so ordinary runs pay nothing. The
callbacks read the closed sets of choices from their numpy-free modules: a Tab
never imports numpy or Pillow.
"""

from __future__ import annotations

from typing import Annotated

import typer

from convtool.cli import _typer_compat
from convtool.cli.help import choices_metavar
from convtool.errors import UsageError


def _starting_with(choices, incomplete: str) -> list[str]:
    return [c for c in choices if c.startswith(incomplete)]


def complete_mode(incomplete: str) -> list[str]:
    from convtool.engine.modes import MODES

    return _starting_with(MODES, incomplete)


def complete_method(incomplete: str) -> list[str]:
    from convtool.engine.modes import METHODS

    return _starting_with(METHODS, incomplete)


def complete_alpha(incomplete: str) -> list[str]:
    from convtool.imaging.choices import ALPHA_MODES

    return _starting_with(ALPHA_MODES, incomplete)


def complete_compression(incomplete: str) -> list[str]:
    from convtool.imaging.choices import TIFF_COMPRESSIONS

    return _starting_with(TIFF_COMPRESSIONS, incomplete)


def complete_format(incomplete: str) -> list[str]:
    """The common output format names (--format takes any Pillow can write; listing
    those would import Pillow, which completion must not)."""
    from convtool.imaging.choices import FORMAT_EXTENSIONS

    return _starting_with(sorted(name.lower() for name in FORMAT_EXTENSIONS), incomplete.lower())


def complete_normalize(incomplete: str) -> list[str]:
    from convtool.kernels.choices import NORMALIZE_CHOICES

    return _starting_with(NORMALIZE_CHOICES, incomplete)


def complete_operator(incomplete: str) -> list[str]:
    from convtool.pipeline.choices import EDGE_OPERATORS

    return _starting_with(EDGE_OPERATORS, incomplete)


def complete_kernel(incomplete: str) -> list[str]:
    """Kernel names; nothing for a path or a matrix, so the shell completes file names."""
    from convtool.kernels.choices import KERNEL_NAMES

    return _starting_with(KERNEL_NAMES, incomplete)


def completion(
    shell: Annotated[str, typer.Argument(
        help="The shell to complete in.", metavar=choices_metavar(_typer_compat.SHELLS),
        show_default=False)],
    install: Annotated[bool, typer.Option(
        "--install", help="Add the script to your shell's start-up files instead of "
                          "printing it (bash: ~/.bashrc, zsh: ~/.zshrc, fish: "
                          "~/.config/fish/completions).")] = False,
) -> None:
    """Print (or --install) the script that lets SHELL complete convtool's commands,
    options, modes, operators and kernel names.

    Examples:
      convtool completion bash --install
      convtool completion zsh > ~/.zfunc/_convtool
      convtool completion fish > ~/.config/fish/completions/convtool.fish
    """
    name = shell.strip().lower()
    if name not in _typer_compat.SHELLS:
        msg = f"unknown shell {shell!r}: choose one of {', '.join(_typer_compat.SHELLS)}"
        raise UsageError(msg)
    if install:
        path = _typer_compat.install_completion(name)
        typer.echo(f"convtool: {name} completion installed in {path}; "
                   "it takes effect in a new shell", err=True)
        return
    typer.echo(_typer_compat.completion_script(name))
