"""The typer app, its global options, and error handling in one place.

Library errors (:class:`~convtool.errors.ConvtoolError`) become one line on
stderr and their exit code; the parameters they name are shown as flags
(:func:`render_error`). Anything else is a bug: ``--debug`` shows its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import sys
from typing import Annotated

import typer
import typer.core

from convtool import __version__
from convtool.cli import _typer_compat
from convtool.cli.help import MAX_HELP_WIDTH, split_examples
from convtool.cli.options import flag_for
from convtool.errors import ConvtoolError


class LightGroup(typer.core.TyperGroup):
    """A command group whose ``--help`` flag costs no pydantic import (see _typer_compat)."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            _typer_compat.coerce_as_given(option)
        return option


def _long_options(group) -> set[str]:
    """Every ``--long`` option of every command under ``group``."""
    found = set()
    for command in getattr(group, "commands", {}).values():
        for param in command.params:
            found.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
        found |= _long_options(command)
    return found


def _one_dash_mistake(args, options) -> str | None:
    """``-sigma 2`` means ``--sigma 2``; click would read it as ``-s igma``. Name it."""
    for arg in args:
        if arg == "--":
            break
        if re.fullmatch(r"-[A-Za-z][\w-]+", arg) and "-" + arg in options:
            return f"{arg}: a long option takes two dashes: -{arg}"
    return None


def _debug_first(args: list[str]) -> list[str]:
    """Accept ``--debug`` anywhere before ``--``, as if given before the command."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[1:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


class _OneLineErrors(LightGroup):
    """Report usage errors (unknown option, missing argument) as one line on stderr."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not os.environ.get(_typer_compat.complete_var(prog_name or "convtool")):
            args = _debug_first(list(sys.argv[1:] if args is None else args))
            mistake = _one_dash_mistake(args, _long_options(self))
            if mistake and standalone_mode:
                sys.stderr.write(f"convtool: error: {mistake}\n")
                sys.exit(2)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            message, code = interrupted_exit()
            sys.stderr.write(f"convtool: error: {message}\n")
            sys.exit(code)
        except _typer_compat.NoArgsIsHelpError as e:
            sys.stderr.write(e.format_message() + "\n")
            sys.exit(e.exit_code)
        except _typer_compat.ClickException as e:
            hint = ""
            ctx = getattr(e, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            sys.stderr.write(printable(f"convtool: error: {e.format_message()}{hint}") + "\n")
            sys.exit(e.exit_code)
        sys.exit(result if isinstance(result, int) else 0)

    # typer would import pydantic to coerce option values: plain ones need not.
    def parse_args(self, ctx, args):
        _typer_compat.plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            _typer_compat.plain_coercion(command.get_params(ctx))
        return name, command, rest


_HELP, _EXAMPLES = split_examples("""
    Exact, fast image convolution: blur, box-filter or convolve images with any kernel.

    Two paths are INPUT OUTPUT; with --out-dir DIR every path is an input (files, folders,
    globs). An existing OUTPUT that convtool did not write is replaced only with --overwrite.
    'convtool COMMAND --help' lists a command's options; 'convtool completion bash' (zsh, fish)
    sets up Tab completion.

    Examples:
      convtool blur photo.png blurred.png --sigma 2
      convtool convolve photo.png edges.png --kernel sobel-x --abs
      convtool mean photos/ --out-dir smooth/ --size 5 --recursive
      cat photo.png | convtool sharpen - - --sigma 1.5 --format png > sharp.png
      convtool kernel show gaussian:2
    """)

app = typer.Typer(
    cls=_OneLineErrors,
    name="convtool",
    help=_HELP,
    epilog=_EXAMPLES,
    add_completion=False,  # convtool completion SHELL instead: no cost for ordinary runs
    no_args_is_help=True,
    # Plain help: rendering it with rich costs ~0.15 s of start-up, over the 0.25 s budget.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"],
                      "max_content_width": MAX_HELP_WIDTH},
)

_state = {"debug": False}


def debugging() -> bool:
    """Whether ``--debug`` was given: show tracebacks of unexpected errors."""
    return _state["debug"]


def render_error(message: str, params=()) -> str:
    """A library message in the command line's words: each parameter it names as a flag.

    >>> render_error("out_dir x: exists and is not a folder", ("out_dir",))
    '--out-dir x: exists and is not a folder'
    """
    for param in params:
        message = re.sub(rf"(?<![\w-]){re.escape(param)}(?![\w-])", flag_for(param), message)
    return message


# C0 and C1 control characters and DEL: from a file name or a file's metadata they
# could recolour the terminal, move the cursor or forge whole lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` with every control character escaped as Python writes it in a string.

    >>> printable("a\x1b[31mred\nline.png")
    'a\\x1b[31mred\\nline.png'
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def echo(text: str, err: bool = False) -> None:
    """``typer.echo`` of one line, control characters escaped (see :func:`printable`).

    When whoever read stderr has gone (a closed pipe), the line is dropped: progress
    and summaries are only a report, the work and the exit code go on.
    """
    try:
        typer.echo(printable(text), err=err)
    except BrokenPipeError:
        if not err:
            raise


# SIGTERM and SIGHUP stop a run as Ctrl-C does (temporary files removed, batch
# workers stopped, summary written), with the shell's exit code 128 + signal.
class _Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP."""


_received: dict = {"signal": None}
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def _on_terminate(signum, frame):
    if _received["signal"] is not None:
        return  # already stopping: let the clean-up finish
    _received["signal"] = signum
    raise _Terminated(signum)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP interrupt the run like Ctrl-C (call from the main thread)."""
    for signum in _TERMINATING:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, _on_terminate)


def interrupted_exit() -> tuple[str, int]:
    """The message and exit code of an interrupted run: 130 for Ctrl-C, 128 + the signal."""
    signum = _received["signal"]
    if signum is None:
        return "interrupted", 130
    return f"interrupted ({signal.Signals(signum).name})", 128 + signum


def fail(message: str, code: int) -> typer.Exit:
    """Print ``convtool: error: message`` on stderr; return the Exit to raise."""
    echo(f"convtool: error: {message}", err=True)
    return typer.Exit(code)


def handles_errors(command):
    """Turn library errors into one line on stderr and an exit code, in one place."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:  # a command's own exit code (batch: 1 if any file failed)
            raise
        except ConvtoolError as e:
            raise fail(render_error(str(e), e.params), e.exit_code) from None
        except KeyboardInterrupt:
            raise fail(*interrupted_exit()) from None
        except MemoryError:
            raise fail("out of memory: try a smaller image or kernel", 1) from None
        except Exception as e:
            if debugging():
                raise
            raise fail(f"internal error: {type(e).__name__}: {e} "
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
        "--debug", help="Show a traceback for unexpected errors, also those of batch "
                        "workers (also accepted after the command).")] = False,
) -> None:
    _state["debug"] = debug


def _quiet_libraries() -> None:
    """Keep the libraries' own warnings off stderr: the command line speaks in one-line errors.

    tifffile logs what it finds wrong in a damaged TIFF, and Pillow warns about files it
    repairs (an invalid APNG, a malformed MPO header); convtool refuses or reads such files
    and says so itself.
    """
    import logging
    import warnings

    tifffile_log = logging.getLogger("tifffile")
    tifffile_log.addHandler(logging.NullHandler())
    tifffile_log.propagate = False
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def _app_for(args: list[str]):
    """The app with only the command that ``args`` run (typer builds less), else all of it.

    The command is the first argument that is no option (the global options,
    ``--debug`` and ``--version``, take no value); shell completion, help of
    the whole tool and mistyped commands get the whole app.
    """
    if os.environ.get(_typer_compat.complete_var("convtool")):
        return app
    name = next((a for a in args if not a.startswith("-")), None)
    if name is None or "--" in args[:args.index(name)]:
        return app
    return _typer_compat.only_command(app, name) or app


def main() -> None:
    """Entry point of the ``convtool`` console script (and of ``python -m convtool``)."""
    if os.environ.get(_typer_compat.complete_var("convtool")):  # a shell asks for completions
        _typer_compat.enable_completion()
    install_signal_handlers()
    _quiet_libraries()
    try:
        _app_for(sys.argv[1:])(prog_name="convtool")
    except KeyboardInterrupt:
        message, code = interrupted_exit()
        sys.stderr.write(f"convtool: error: {message}\n")
        sys.exit(code)
