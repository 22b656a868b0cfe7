"""Every touch of typer's private API, fenced in one place.

typer 0.2x vendors its own copy of click as ``typer._click``; the exceptions a
command group raises in ``standalone_mode=False`` come from there. Older typer
uses click itself. ``tests/test_typer_compat.py`` fails loudly when either
import stops giving what :mod:`convtool.cli.app` needs.
"""

from __future__ import annotations

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as click_exceptions

#: The base of click's usage errors (unknown option, missing argument, ...).
ClickException = click_exceptions.ClickException

#: Raised for a group called with no arguments; older click has none, and
#: ``except ():`` then matches nothing.
NoArgsIsHelpError = getattr(click_exceptions, "NoArgsIsHelpError", ())


# --------------------------------------------------------------------------
# A light help option. typer 0.2x coerces every parameter's value through a
# pydantic TypeAdapter built on first use; a group's ``--help`` flag that was
# not given has the value None, which is not a bool, so ``convtool blur --help``
# would import pydantic (~0.12 s) just to pass None along. The flag needs no
# coercion: give it one that returns the value as it is.
# --------------------------------------------------------------------------


class _AsGiven:
    """A typer runtime parameter that returns the value unchanged."""

    def coerce(self, value, param=None, ctx=None):
        return value


def coerce_as_given(param) -> None:
    """Make typer pass ``param``'s value through without building a pydantic adapter."""
    if getattr(param, "_runtime_param", "missing") is None:
        param._runtime_param = _AsGiven()


# --------------------------------------------------------------------------
# Shell completion. typer registers its bash/zsh/fish completion classes and
# writes their scripts with private helpers; convtool registers them only when
# a shell asks for completions, so ordinary runs pay nothing.
# --------------------------------------------------------------------------

SHELLS = ("bash", "zsh", "fish")


def enable_completion() -> None:
    """Register typer's completion classes (bash, zsh, fish, PowerShell) with its click."""
    from typer._completion_classes import completion_init

    completion_init()


def completion_script(shell: str, prog_name: str = "convtool") -> str:
    """The script that makes ``shell`` complete ``prog_name``'s commands, options and values."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=prog_name, complete_var=complete_var(prog_name),
                                 shell=shell)


def install_completion(shell: str, prog_name: str = "convtool") -> str:
    """Install the completion script into the user's ``shell`` set-up; return the file written."""
    from typer._completion_shared import install

    _, path = install(shell=shell, prog_name=prog_name, complete_var=complete_var(prog_name))
    return str(path)


def complete_var(prog_name: str) -> str:
    """The environment variable through which a shell asks for completions."""
    return "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())
