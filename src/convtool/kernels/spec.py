"""The kernel spec language: ``NAME[:ARGS]``, an inline matrix, or a file."""

from __future__ import annotations

import difflib
import math
import os
import re

from convtool.errors import KernelError, UsageError
from convtool.kernels.files import load_kernel, parse_rows
from convtool.kernels.model import MAX_KERNEL_SIDE, Kernel
from convtool.kernels.named import NAMED_KERNELS, NamedKernel, Param

# Forms that are not names, for `convtool kernels`.
SPEC_FORMS = [
    ("1 2 1; 2 4 2; 1 2 1", "inline matrix: rows split by ';', numbers by spaces or commas"),
    ("@PATH or PATH", "a kernel file: text or CSV rows, .npy array, or libvips .mat matrix"),
]

_NUMBERS = re.compile(r"^[\s0-9eE+\-.,;]+$")
_FILE_SUFFIXES = (".txt", ".csv", ".npy", ".mat", ".tsv", ".dat")


def _value(text: str, param: Param, kernel: str):
    """Convert one spec argument to the type its parameter takes."""
    t = text.strip()
    if param.kind in ("sigma", "size", "radius") and "x" in t.lower():
        parts = t.lower().split("x")
        if len(parts) != 2:
            msg = f"{kernel}: {param.name} {t!r} is not a number or WIDTHxHEIGHT"
            raise KernelError(msg)
        one = Param(param.name, param.kind)
        return tuple(_value(p, one, kernel) for p in parts)
    try:
        v = float(t)
    except ValueError:
        msg = f"{kernel}: {param.name} must be a number, got {t!r}"
        raise KernelError(msg) from None
    if param.kind == "sigma" and not (math.isfinite(v) and v >= 0):
        msg = f"{kernel}: {param.name} must be a finite number >= 0, got {t!r}"
        raise KernelError(msg)
    if param.kind == "positive" and not (math.isfinite(v) and v > 0):
        msg = f"{kernel}: {param.name} must be a positive finite number, got {t!r}"
        raise KernelError(msg)
    if param.kind == "number" and not math.isfinite(v):
        msg = f"{kernel}: {param.name} must be a finite number, got {t!r}"
        raise KernelError(msg)
    if param.kind in ("size", "radius", "int"):
        least = 1 if param.kind == "size" else 0
        if not (math.isfinite(v) and v.is_integer() and v >= least):
            msg = f"{kernel}: {param.name} must be a whole number >= {least}, got {t!r}"
            raise KernelError(msg)
        if v > MAX_KERNEL_SIDE:
            msg = (f"{kernel}: {param.name} {t} is too large: kernels are at most "
                   f"{MAX_KERNEL_SIDE} per side")
            raise KernelError(msg)
        return int(v)
    return v


def _parse_named(entry: NamedKernel, args: str | None):
    params = entry.params
    if args is None or not args.strip():
        missing = [p.name for p in params if p.required]
        if missing:
            msg = (f"{entry.name} needs {' and '.join(missing)}, e.g. "
                   f"{entry.example.split(', ')[0]}")
            raise KernelError(msg)
        return entry.build()
    if not params:
        msg = f"{entry.name} takes no parameters, got {args!r}"
        raise KernelError(msg)
    values: dict = {}
    names = [p.name for p in params]
    for position, item in enumerate(args.split(",")):
        if "=" in item:
            key, text = (s.strip() for s in item.split("=", 1))
            match = [p for p in params if p.name == key]
            if not match:
                msg = (f"{entry.name}: unknown parameter {key!r} "
                       f"(it takes {', '.join(names)}; e.g. {entry.example})")
                raise KernelError(msg)
            param = match[0]
        else:
            if position >= len(params):
                msg = (f"{entry.name}: too many values in {args!r}: it takes "
                       f"{', '.join(names)}")
                raise KernelError(msg)
            param, text = params[position], item
        if param.name in values:
            msg = f"{entry.name}: {param.name} given twice in {args!r}"
            raise KernelError(msg)
        if not text.strip():
            msg = f"{entry.name}: empty value for {param.name} in {args!r}"
            raise KernelError(msg)
        values[param.name] = _value(text, param, entry.name)
    missing = [p.name for p in params if p.required and p.name not in values]
    if missing:
        msg = f"{entry.name} needs {' and '.join(missing)}, e.g. {entry.example.split(', ')[0]}"
        raise KernelError(msg)
    try:
        return entry.build(**values)
    except KernelError:
        raise
    except UsageError as e:  # builders' checks: re-raise as a kernel error, same message
        raise KernelError(str(e)) from None


def _parse_inline(spec: str) -> Kernel:
    rows = [(i, row) for i, row in enumerate(spec.split(";"), 1)]
    if rows and not rows[-1][1].strip():  # a trailing ';' is harmless
        rows = rows[:-1]
    for number, row in rows:
        if not row.replace(",", " ").strip():
            msg = f"kernel {spec!r}: row {number} is empty"
            raise KernelError(msg)
    array = parse_rows(rows, f"kernel {spec!r}", unit="row")
    return Kernel(array, name="matrix")


def parse_kernel(spec) -> Kernel:
    """Build a kernel from a spec string.

    Forms (sizes are ``WIDTHxHEIGHT`` in specs, as image sizes):

    - a name with optional parameters, positional or ``key=value``:
      ``gaussian:2``, ``gaussian:sigma=2,radius=6``, ``gaussian:3x1``
      (sigma_x=3, sigma_y=1), ``mean:7x3`` (7 wide, 3 tall), ``box:5``,
      ``sobel-x``, ``laplacian:8``, ``disk:3``, ``motion:length=9,angle=30``,
      ``log:2``; see :data:`NAMED_KERNELS`.
    - an inline matrix, rows split by ``;``: ``"1 2 1; 2 4 2; 1 2 1"``.
    - a file, ``@path`` or a plain path: see :func:`load_kernel`.

    A :class:`Kernel` passes through unchanged.

    Raises
    ------
    KernelError
        With a message naming the spec and what is allowed (the closest name
        for an unknown one).

    Examples
    --------
    >>> parse_kernel("mean:3x1").shape
    (1, 3)
    >>> parse_kernel("1 2 1; 2 4 2; 1 2 1").sum
    16.0
    """
    if isinstance(spec, Kernel):
        return spec
    if isinstance(spec, os.PathLike):
        return load_kernel(spec)
    if not isinstance(spec, str):
        msg = f"a kernel spec must be a string, got {type(spec).__name__}"
        raise KernelError(msg)
    text = spec.strip()
    if not text:
        msg = "empty kernel spec: give a name (e.g. gaussian:2), a matrix or a file"
        raise KernelError(msg)
    if text.startswith("@"):
        return load_kernel(text[1:])
    name, sep, args = text.partition(":")
    key = name.strip().lower()
    if key in NAMED_KERNELS:
        return _parse_named(NAMED_KERNELS[key], args if sep else None)
    if _NUMBERS.match(text) and any(c.isdigit() for c in text):
        return _parse_inline(text)
    # Before the looser matrix test below: './k.txt', '../k.txt' and '1k.txt'
    # start like numbers but are files.
    looks_like_path = (os.sep in text or "/" in text or text.lower().endswith(_FILE_SUFFIXES)
                       or os.path.exists(text))
    if looks_like_path:
        return load_kernel(text)
    if ";" in text or text[0] in "0123456789+-.":
        return _parse_inline(text)
    close = difflib.get_close_matches(key, NAMED_KERNELS, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    msg = (f"unknown kernel {name.strip()!r}: {hint}see 'convtool kernels' for the names; "
           "a matrix is written '1 2 1; 2 4 2; 1 2 1' and a file '@path'")
    raise KernelError(msg)



def parse_size(text: str, what: str = "size") -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` (or one number for a square) as ``(height, width)``.

    Examples
    --------
    >>> parse_size("1920x1080"), parse_size("64")
    ((1080, 1920), (64, 64))
    """
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        msg = f"{what} {text!r}: write WIDTHxHEIGHT in pixels, e.g. 1920x1080"
        raise UsageError(msg, params=(what,))
    w, h = (values * 2)[:2]
    return h, w
