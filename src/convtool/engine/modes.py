"""Boundary modes and method names: the one table of each, and one index rule per mode.

This module does not import numpy at import time (the CLI's ``--help`` reads the
tables); the index rules import it when they run.

Modes use scipy.ndimage's names. numpy.pad's names differ: its ``symmetric`` is
our ``reflect`` and its ``reflect`` is our ``mirror``.

Adding a mode is one entry in :data:`MODE_TABLE` (a name, aliases, a one-line
description, a diagram and an index rule) plus its tests. The execution paths
never look at a mode's name: they map padded indices through the rule, and an
index of -1 (which only ``constant`` produces) means "the value ``cval``".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from convtool.errors import UsageError

Mode = Literal["reflect", "mirror", "nearest", "wrap", "constant"]
Method = Literal["auto", "direct", "fft"]


def _reflect(i, n: int):
    import numpy as np

    i = i % (2 * n)  # period 2n: d c b a | a b c d | d c b a
    return np.where(i < n, i, 2 * n - 1 - i)


def _mirror(i, n: int):
    import numpy as np

    if n == 1:
        return np.zeros_like(i)
    i = i % (2 * n - 2)  # period 2n - 2: the edge sample is not repeated
    return np.where(i < n, i, 2 * n - 2 - i)


def _nearest(i, n: int):
    import numpy as np

    return np.clip(i, 0, n - 1)


def _wrap(i, n: int):
    return i % n


def _constant(i, n: int):
    import numpy as np

    return np.where((i >= 0) & (i < n), i, -1)


@dataclass(frozen=True)
class BoundaryMode:
    """One boundary mode: how an axis is extended past its edges.

    ``rule(i, n)`` maps an integer array of positions ``i`` (any integers) on an
    axis of length ``n`` to indices into ``0..n-1``, or -1 for "outside: use cval".
    ``left`` and ``right`` draw the extension of the row ``a b c d``.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    left: str
    right: str
    note: str
    rule: Callable

    def diagram(self) -> str:
        """``left | a b c d | right``, padded so that the bars of every mode line up."""
        return f"{self.left:>7} | a b c d | {self.right:<7}"


MODE_TABLE: tuple[BoundaryMode, ...] = (
    BoundaryMode("reflect", ("grid-mirror",),
                 "reflect about the edge, repeating the edge sample (the default)",
                 "d c b a", "d c b a", 'numpy.pad calls this "symmetric"', _reflect),
    BoundaryMode("mirror", (),
                 "reflect about the centre of the edge sample, which is not repeated",
                 "d c b", "c b a", 'numpy.pad calls this "reflect"', _mirror),
    BoundaryMode("nearest", ("edge",),
                 "repeat the edge sample",
                 "a a a a", "d d d d", "alias: edge", _nearest),
    BoundaryMode("wrap", ("grid-wrap",),
                 "wrap around to the other edge (periodic)",
                 "a b c d", "a b c d", "", _wrap),
    BoundaryMode("constant", ("grid-constant",),
                 "a constant value k = cval outside",
                 "k k k k", "k k k k", "k = {cval}", _constant),
)

MODES: tuple[str, ...] = tuple(m.name for m in MODE_TABLE)
# Other names for the same boundary rules, as scipy.ndimage and ImageMagick spell them.
MODE_ALIASES: dict[str, str] = {alias: m.name for m in MODE_TABLE for alias in m.aliases}

METHOD_TABLE: tuple[tuple[str, str], ...] = (
    ("auto", "the cheaper of direct and fft by the cost model (see convtool.engine.plan)"),
    ("direct", "sums of shifted copies: exact to rounding, cost grows with the kernel"),
    ("fft", "multiplication of Fourier transforms: cost grows with the image, not the kernel"),
)
METHODS: tuple[str, ...] = tuple(name for name, _ in METHOD_TABLE)


def mode_lines(cval: str = "cval") -> list[str]:
    """The mode table as text lines: name, diagram for the row ``a b c d`` and a note.

    ``cval`` is how the constant's value is called (``"--cval"`` on the command line).
    """
    lines = []
    for m in MODE_TABLE:
        note = m.note.format(cval=cval)
        line = f"{m.name:<9} {m.diagram()}"
        lines.append(f"{line}    {note}" if note else line.rstrip())
    return lines


def mode_help(cval: str = "--cval") -> str:
    """The modes as one paragraph of help text (for the command line), from the table."""
    parts = []
    for m in MODE_TABLE:
        note = m.note.format(cval=cval)
        default = "default" if m is MODE_TABLE[0] else ""
        extra = "; ".join(p for p in (default, note) if p)
        parts.append(f"{m.name} '{m.diagram().strip()}'" + (f" ({extra})" if extra else ""))
    return "How the image is extended past its edges, shown for the row 'a b c d': " + \
        ", ".join(parts) + "."


def get_mode(mode: str) -> BoundaryMode:
    """The table entry of a mode name or alias, or raise :class:`UsageError`."""
    name = normalize_mode(mode)
    return next(m for m in MODE_TABLE if m.name == name)


def normalize_mode(mode: str) -> str:
    """Return the canonical name of a boundary mode, or raise :class:`UsageError`."""
    name = str(mode).strip().lower()
    name = MODE_ALIASES.get(name, name)
    if name not in MODES:
        msg = (
            f"unknown mode {mode!r}: choose one of {', '.join(MODES)} "
            "(scipy.ndimage's names; numpy.pad's 'symmetric' is our 'reflect' "
            "and its 'reflect' is our 'mirror')"
        )
        raise UsageError(msg)
    return name


def normalize_method(method: str) -> str:
    """Return the canonical name of a method, or raise :class:`UsageError`."""
    name = str(method).strip().lower()
    if name not in METHODS:
        msg = f"unknown method {method!r}: choose one of {', '.join(METHODS)}"
        raise UsageError(msg)
    return name


def pad_index(n: int, before: int, after: int, mode: str):
    """Index into an axis of length ``n`` of each sample of the axis padded by ``before``/``after``.

    -1 marks a sample outside the array (constant mode). The rules are periodic,
    so kernels longer than the axis work too.
    """
    import numpy as np

    positions = np.arange(-before, n + after, dtype=np.intp)
    return get_mode(mode).rule(positions, n).astype(np.intp, copy=False)


def pad(array, kshape: tuple[int, ...], mode: str, cval: float):
    """Pad the leading ``len(kshape)`` axes so that a valid correlation keeps the size.

    The kernel's centre is at index ``k // 2`` of the (unflipped) kernel, as in
    scipy.ndimage.convolve, so an axis is padded by ``(k - 1) // 2`` before and
    ``k // 2`` after.
    """
    import numpy as np

    out = array
    for axis, k in enumerate(kshape):
        idx = pad_index(out.shape[axis], (k - 1) // 2, k // 2, mode)
        outside = idx < 0
        out = np.take(out, np.maximum(idx, 0), axis=axis)
        if outside.any():
            where = [slice(None)] * out.ndim
            where[axis] = outside
            out[tuple(where)] = cval
    return out
