"""The typer app, its global options, and error handling in one place.

Library errors (:class:`~convtool.errors.ConvtoolError`) become one line on
stderr and their exit code; the parameters they name are shown as flags
(:func:`render_error`). Anything else is a bug: ``--debug`` shows its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import sys
from typing import Annotated

import typer
import typer.core

from convtool import __version__
from convtool.cli import _typer_compat
from convtool.cli.options import flag_for
from convtool.errors import ConvtoolError


class _OneLineErrors(typer.core.TyperGroup):
    """Report usage errors (unknown option, missing argument) as one line on stderr."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
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


app = typer.Typer(
    cls=_OneLineErrors,
    name="convtool",
    help="Exact, fast image convolution: blur, box-filter or convolve images with any kernel.",
    add_completion=False,
    no_args_is_help=True,
    # Plain help: rendering it with rich costs ~0.15 s of start-up, over the 0.25 s budget.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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
                        "workers.")] = False,
) -> None:
    """Exact, fast image convolution.

    Example: convtool blur photo.png blurred.png --sigma 2
    """
    _state["debug"] = debug


def main() -> None:
    """Entry point of the ``convtool`` console script."""
    install_signal_handlers()
    try:
        app()
    except KeyboardInterrupt:
        message, code = interrupted_exit()
        sys.stderr.write(f"convtool: error: {message}\n")
        sys.exit(code)
