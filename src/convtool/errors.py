"""Typed errors raised by convtool's library code.

Each error carries the exit code the command line uses for it: ``2`` for a usage
mistake (a bad option, kernel or parameter), ``1`` for a failure while doing the
work (an unreadable input, an unwritable output). Only :mod:`convtool.cli` turns
them into messages and exit codes; library callers catch :class:`ConvtoolError`.

This module imports nothing, so every layer may use it.
"""


class ConvtoolError(Exception):
    """Base class of every error convtool raises on purpose.

    ``params`` names the library parameters the message speaks of (e.g.
    ``("out_dir",)``), so that a front end can show its own names for them
    (the command line writes ``--out-dir``).
    """

    exit_code = 1
    params: tuple[str, ...] = ()

    def __init__(self, *args, params=()):
        super().__init__(*args)
        if params:
            self.params = tuple(params)


class UsageError(ConvtoolError, ValueError):
    """A parameter, option or argument is not acceptable."""

    exit_code = 2


class KernelError(UsageError):
    """A kernel spec, kernel file or kernel array is malformed."""


class ImageReadError(ConvtoolError):
    """An input image is missing, unreadable or not an image."""


class ImageWriteError(ConvtoolError):
    """An output image could not be written."""
