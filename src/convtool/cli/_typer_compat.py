"""Every touch of typer's private API, fenced in one place.

typer 0.2x vendors its own copy of click as ``typer._click``; the exceptions a
command group raises in ``standalone_mode=False`` come from there. Older typer
uses click itself. ``tests/test_typer_compat.py`` fails loudly when either
import stops giving what :mod:`convtool.cli.app` needs.
"""

from __future__ import annotations

import copy
import types
import typing

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
# Coercion without pydantic.
#
# typer >= 0.2x coerces every option value through a pydantic TypeAdapter: the
# first command line with an option imports pydantic and builds an adapter per
# parameter, ~0.1 s of a 64x64 image's ~0.3 s run on a quiet machine. Our
# options are plain float, int, str and lists of str (the library validates
# them), so we give typer's parameters a runtime coercer of our own, set where
# typer caches the one it would build (``_TyperParameter._runtime_param``).
# Anything else (and a typer without these internals) keeps typer's own.
# --------------------------------------------------------------------------

try:
    from typer._coercion import RuntimeParam as _RuntimeParam
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - another typer: its own coercion stays
    _RuntimeParam = _TyperParameter = None

_PLAIN = {float: "float", int: "integer", str: "text", bool: "boolean"}
_TRUE, _FALSE = ("1", "true", "t", "yes", "y", "on"), ("0", "false", "f", "no", "n", "off")


def _plain_type(annotation):
    """``(type, is_list)`` for float/int/str, their lists and Optionals; None otherwise."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation in _PLAIN:
        return annotation, False
    if typing.get_origin(annotation) is list and args and args[0] in _PLAIN:
        return args[0], True
    if len(args) == 1 and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _plain_type(args[0])
    return None


def _convert(kind, value, param, ctx):
    if kind is str or not isinstance(value, str):
        return value
    try:
        if kind is bool:
            if value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError
        if kind is int:
            number = float(value) if "." in value or "e" in value.lower() else int(value)
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            return int(number)
        return float(value)
    except ValueError:
        msg = f"{value!r} is not a valid {_PLAIN[kind]}."
        raise click_exceptions.BadParameter(msg, ctx=ctx, param=param) from None


if _RuntimeParam is not None:
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class _PlainRuntimeParam(_RuntimeParam):
        kind: type = str
        is_list: bool = False

        def _coerce_value(self, value, param, ctx):
            if self.is_list:
                return [_convert(self.kind, v, param, ctx) for v in value]
            return _convert(self.kind, value, param, ctx)


def plain_coercion(params) -> None:
    """Give the plain (bool/float/int/str) ``params`` of a command a coercer without pydantic."""
    if _RuntimeParam is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if not isinstance(param, _TyperParameter) or descriptor is None:
            continue
        if getattr(param, "_runtime_param", "missing") is not None:
            continue  # typer already built one (or has no such cache)
        plain = _plain_type(descriptor.annotation)
        if plain is not None and descriptor.file_annotation is None:
            param._runtime_param = _PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                kind=plain[0], is_list=plain[1])


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


# --------------------------------------------------------------------------
# Building only the command that runs.
#
# typer builds the click command of every registered command, from its
# function's signature, each time the app runs: ~25 ms of a 64x64 image's run
# for the eight commands, though one runs. ``Typer.registered_commands`` and
# ``registered_groups`` (lists of CommandInfo and TyperInfo) are undocumented;
# a copy of the app with just the invoked one gives typer less to build.
# --------------------------------------------------------------------------


def _command_name(info) -> str | None:
    name = getattr(info, "name", None)
    if name:
        return name
    callback = getattr(info, "callback", None)
    return callback.__name__.replace("_", "-") if callback is not None else None


def only_command(app, name: str):
    """A copy of the typer ``app`` holding just its command or group ``name``, or None.

    None when ``name`` is no command of ``app``, or when this typer keeps its
    commands elsewhere (then the caller runs the whole app).
    """
    commands = getattr(app, "registered_commands", None)
    groups = getattr(app, "registered_groups", None)
    if not isinstance(commands, list) or not isinstance(groups, list):
        return None
    keep = [c for c in commands if _command_name(c) == name]
    keep_groups = [g for g in groups if getattr(g, "name", None) == name]
    if len(keep) + len(keep_groups) != 1:
        return None
    lean = copy.copy(app)
    lean.registered_commands = keep
    lean.registered_groups = keep_groups
    return lean
