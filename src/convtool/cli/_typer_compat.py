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
