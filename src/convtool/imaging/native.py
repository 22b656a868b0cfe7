"""What libtiff prints on stderr while Pillow decodes a TIFF, caught and judged.

libtiff reports through handlers that write straight to file descriptor 2,
which breaks the rule of one ``convtool: error:`` line, and Pillow goes on
after some of its errors (a G4 strip with a bad code word decodes to a
partly blank page, with exit 0). While a TIFF is read, fd 2 is pointed at a
temporary file; afterwards its lines are read back: warnings are dropped, and
an error refuses the file, with libtiff's words in the one error line.

The redirection holds a process-wide lock, so TIFF reads in threads of one
process take turns; other threads' writes to stderr in that time are lost.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading

from convtool.errors import ImageReadError

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_lock = threading.Lock()


def is_tiff(source) -> bool:
    """True when ``source`` (a path or a seekable binary stream) starts like a TIFF file."""
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                head = f.read(4)
        else:
            at = source.tell()
            head = source.read(4)
            source.seek(at)
    except (OSError, AttributeError, ValueError):
        return False
    return head in TIFF_MAGIC


def libtiff_errors(text: str) -> list[str]:
    """The error lines among libtiff's messages (its warnings say "Warning")."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and "Warning" not in line]


@contextlib.contextmanager
def libtiff_messages(source, name: str):
    """Catch libtiff's stderr while reading ``source``; refuse the file if it reported an error."""
    if not is_tiff(source):
        yield
        return
    with _lock, tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        except ImageReadError as e:
            errors = _read_errors(sink)
            if errors:
                msg = f"{name}: cannot decode image (libtiff: {errors[0]})"
                raise ImageReadError(msg) from None
            raise e from None
        errors = _read_errors(sink)
        if errors:
            msg = f"{name}: damaged TIFF (libtiff: {errors[0]})"
            raise ImageReadError(msg)


def _read_errors(sink) -> list[str]:
    sink.seek(0)
    return libtiff_errors(sink.read(1 << 16).decode("utf-8", "replace"))
