"""Kernels: the :class:`Kernel` value, builders for common kernels, kernel files.

Sizes in the Python API are ``(height, width)`` as numpy orders them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from convtool.engine import separable_factors
from convtool.errors import KernelError, UsageError

# Kernels with more taps than this are refused before anything is allocated:
# 4097 x 4097 is already 134 MB of float64 and larger than most photos.
MAX_KERNEL_TAPS = 4097 * 4097
MAX_KERNEL_SIDE = 16385


@dataclass(frozen=True, eq=False)
class Kernel:
    """A convolution kernel.

    Parameters
    ----------
    array : ndarray, shape (KH, KW) or (K,)
        The weights, float64. Stored read-only.
    name : str
        How messages refer to the kernel, e.g. ``"gaussian(sigma=2)"``.
    factors : tuple of 1-D arrays or None
        ``(column, row)`` with ``np.outer(column, row) == array`` for a
        separable 2-D kernel; found automatically when not given.
    """

    array: np.ndarray
    name: str = "kernel"
    factors: tuple[np.ndarray, ...] | None = field(default=None)

    def __post_init__(self):
        a = np.array(self.array, dtype=np.float64)
        if a.ndim == 0 or a.size == 0:
            msg = f"{self.name}: a kernel needs at least one value"
            raise KernelError(msg)
        if not np.all(np.isfinite(a)):
            msg = f"{self.name}: kernel contains NaN or infinite values"
            raise KernelError(msg)
        a.setflags(write=False)
        object.__setattr__(self, "array", a)
        factors = self.factors
        if factors is None and a.ndim == 2:
            factors = separable_factors(a)
        if factors is not None:
            factors = tuple(np.array(f, dtype=np.float64) for f in factors)
            for f in factors:
                f.setflags(write=False)
        object.__setattr__(self, "factors", factors)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def sum(self) -> float:
        return float(self.array.sum())

    @property
    def separable(self) -> bool:
        return self.factors is not None

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        return f"Kernel({self.name}, shape={self.shape}, sum={self.sum:.6g})"

    def normalized(self) -> Kernel:
        """This kernel divided by its sum; a zero-sum kernel is an error."""
        total = self.sum
        if total == 0.0:
            msg = f"{self.name}: cannot normalise a kernel whose values sum to 0"
            raise KernelError(msg)
        factors = None
        if self.factors is not None:
            factors = (self.factors[0] / total, *self.factors[1:])
        return Kernel(self.array / total, name=self.name, factors=factors)


def _check_taps(shape, name: str) -> None:
    if any(s > MAX_KERNEL_SIDE for s in shape) or math.prod(shape) > MAX_KERNEL_TAPS:
        size = "x".join(str(s) for s in reversed(shape))
        msg = (f"{name}: a {size} kernel is too large (at most {MAX_KERNEL_SIDE} per side "
               f"and {MAX_KERNEL_TAPS} values)")
        raise KernelError(msg)


def _check_positive(value, what: str, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        msg = f"{name}: {what} must be a number, got {value!r}"
        raise UsageError(msg) from None
    if not math.isfinite(v) or v <= 0:
        msg = f"{name}: {what} must be a positive finite number, got {value!r}"
        raise UsageError(msg)
    return v


def gaussian_1d(sigma: float, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian weights over ``-radius..radius``.

    The radius defaults to ``round(4 * sigma)``, scipy.ndimage's ``truncate=4.0``.
    """
    sigma = _check_positive(sigma, "sigma", "gaussian")
    if radius is None:
        radius = int(4.0 * sigma + 0.5)
    elif isinstance(radius, bool) or int(radius) != radius or radius < 0:
        msg = f"gaussian: radius must be a whole number >= 0, got {radius!r}"
        raise UsageError(msg)
    radius = int(radius)
    if 2 * radius + 1 > MAX_KERNEL_SIDE:  # refuse before np.arange allocates it
        msg = (f"gaussian: sigma {sigma:g} (radius {radius}) needs a kernel "
               f"{2 * radius + 1} values wide; at most {MAX_KERNEL_SIDE} are allowed")
        raise UsageError(msg)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def gaussian_kernel(sigma, radius=None) -> Kernel:
    """A normalised 2-D Gaussian kernel.

    Parameters
    ----------
    sigma : float or (float, float)
        Standard deviation in pixels, or ``(sigma_y, sigma_x)``.
    radius : int or (int, int), optional
        Half-width; the kernel is ``2 * radius + 1`` wide. Defaults to
        ``round(4 * sigma)`` per axis, as scipy.ndimage.gaussian_filter.

    Returns
    -------
    Kernel
        Separable, with the two 1-D Gaussians as factors.

    Examples
    --------
    >>> gaussian_kernel(1.0).shape
    (9, 9)
    """
    sy, sx = (sigma, sigma) if np.ndim(sigma) == 0 else tuple(sigma)
    ry, rx = (radius, radius) if np.ndim(radius) == 0 else tuple(radius)
    column, row = gaussian_1d(sy, ry), gaussian_1d(sx, rx)
    _check_taps((column.size, row.size), "gaussian")
    name = f"gaussian(sigma={sigma})" if sy == sx else f"gaussian(sigma={sy}x{sx})"
    return Kernel(np.outer(column, row), name=name, factors=(column, row))


def mean_kernel(size) -> Kernel:
    """A box (mean) kernel: every weight ``1 / (height * width)``.

    Parameters
    ----------
    size : int or (int, int)
        Side length, or ``(height, width)``.
    """
    h, w = (size, size) if np.ndim(size) == 0 else tuple(size)
    for v in (h, w):
        if isinstance(v, bool) or not float(v).is_integer() or v < 1:
            msg = f"mean: size must be a whole number >= 1, got {size!r}"
            raise UsageError(msg)
    h, w = int(h), int(w)
    _check_taps((h, w), "mean")
    column, row = np.full(h, 1.0 / h), np.full(w, 1.0 / w)
    return Kernel(np.full((h, w), 1.0 / (h * w)), name=f"mean({w}x{h})", factors=(column, row))


def _parse_rows(lines, source: str) -> np.ndarray:
    rows = []
    first_line = None
    for number, line in lines:
        text = line.split("#", 1)[0].replace(",", " ").strip()
        if not text:
            continue
        values = []
        for token in text.split():
            try:
                v = float(token)
            except ValueError:
                msg = f"{source}, line {number}: {token!r} is not a number"
                raise KernelError(msg) from None
            if not math.isfinite(v):
                msg = f"{source}, line {number}: {token!r} is not a finite number"
                raise KernelError(msg)
            values.append(v)
        if rows and len(values) != len(rows[0]):
            msg = (f"{source}, line {number}: {len(values)} values, but line {first_line} "
                   f"has {len(rows[0])}: every row needs the same number")
            raise KernelError(msg)
        if first_line is None:
            first_line = number
        rows.append(values)
        # Refuse as soon as the kernel is too large, not after reading it all.
        if (len(values) > MAX_KERNEL_SIDE or len(rows) > MAX_KERNEL_SIDE
                or len(rows) * len(values) > MAX_KERNEL_TAPS):
            msg = (f"{source}, line {number}: the kernel is too large, {len(rows)} rows of "
                   f"{len(values)} values so far (at most {MAX_KERNEL_SIDE} per side and "
                   f"{MAX_KERNEL_TAPS} values)")
            raise KernelError(msg)
    if not rows:
        msg = f"{source}: no numbers found: a kernel file needs at least one row of numbers"
        raise KernelError(msg)
    _check_taps((len(rows), len(rows[0])), source)
    return np.array(rows, dtype=np.float64)


def load_kernel(path) -> Kernel:
    """Read a kernel from a text file (rows on lines) or a ``.npy`` file.

    In text files numbers are separated by whitespace or commas, one kernel row
    per line; ``#`` starts a comment. Errors name the file and the line.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.exists(path):
        msg = f"kernel file {path}: no such file"
        raise KernelError(msg)
    if os.path.isdir(path):
        msg = f"kernel file {path}: is a folder, not a file"
        raise KernelError(msg)
    if path.lower().endswith(".npy"):
        try:
            with open(path, "rb") as f:
                # Read the header's shape first, to refuse a huge kernel before
                # allocating it.
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, _ = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, _ = np.lib.format.read_array_header_2_0(f)
                if len(shape) in (1, 2):
                    _check_taps(shape, f"kernel file {path}")
                f.seek(0)
                a = np.load(f, allow_pickle=False)
        except KernelError:
            raise
        except (OSError, ValueError) as e:
            msg = f"kernel file {path}: not a readable .npy file ({e})"
            raise KernelError(msg) from None
        if a.dtype.kind not in "biuf":
            msg = f"kernel file {path}: holds {a.dtype} values, not real numbers"
            raise KernelError(msg)
        if a.ndim not in (1, 2):
            msg = f"kernel file {path}: holds a {a.ndim}-D array; kernels are 1-D or 2-D"
            raise KernelError(msg)
        if a.ndim == 1:
            a = a[np.newaxis, :]
        _check_taps(a.shape, path)
        return Kernel(a.astype(np.float64), name=name)
    try:
        # Parsed line by line, so a huge file is refused early (see _parse_rows).
        with open(path, encoding="utf-8") as f:
            array = _parse_rows(enumerate(f, 1), f"kernel file {path}")
    except UnicodeDecodeError:
        msg = f"kernel file {path}: not a text file of numbers (or a .npy file)"
        raise KernelError(msg) from None
    except OSError as e:
        msg = f"kernel file {path}: cannot read it ({e.strerror})"
        raise KernelError(msg) from None
    return Kernel(array, name=name)
