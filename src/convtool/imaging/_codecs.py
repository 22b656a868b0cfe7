"""The optional codecs for 16-bit colour and float colour: imported on demand, quiet.

Pillow holds colour images with 8 bits per channel only. PNG and TIFF files
with 16 bits per channel (RGB, RGBA, LA) and float RGB TIFFs go through
``imagecodecs`` (libpng) and ``tifffile`` instead: the ``16bit`` extra
(``pip install 'convtool[16bit]'``). Without them such files are refused in one
line that names the extra.

libpng and libtiff report some problems by printing to the process's stderr
themselves; :func:`quiet_stderr` keeps those lines off the terminal (convtool
reports every failure as one line of its own).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading

from convtool.errors import ImageReadError, UsageError

#: The extra that installs the codecs for 16-bit and float colour.
EXTRA = "16bit"
_INSTALL = f"pip install 'convtool[{EXTRA}]'"
_stderr_lock = threading.Lock()


def available() -> bool:
    """True when tifffile and imagecodecs can be imported."""
    try:
        import imagecodecs  # noqa: F401
        import tifffile  # noqa: F401
    except ImportError:
        return False
    return True


def require(what: str, name: str, *, reading: bool = True):
    """Import and return ``(tifffile, imagecodecs)``, or refuse naming the extra."""
    try:
        import imagecodecs
        import tifffile
    except ImportError:
        msg = (f"{name}: {what} needs the optional packages tifffile and imagecodecs "
               f"(Pillow holds 8 bits per colour channel): {_INSTALL}")
        raise (ImageReadError if reading else UsageError)(msg) from None
    # tifffile logs odd tags as warnings; with no handler, Python prints them to stderr.
    logging.getLogger("tifffile").addHandler(logging.NullHandler())
    logging.getLogger("tifffile").propagate = False
    return tifffile, imagecodecs


@contextlib.contextmanager
def quiet_stderr():
    """Send what C libraries print to file descriptor 2 to /dev/null meanwhile.

    Python's stderr object too: imagecodecs reports libpng's warnings through it
    (not file descriptor 2 in a notebook or under a test runner).
    """
    fd = 2
    with _stderr_lock, contextlib.redirect_stderr(io.StringIO()):
        try:
            saved = os.dup(fd)
        except OSError:  # no stderr at all: nothing to keep quiet
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
            finally:
                os.close(devnull)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
