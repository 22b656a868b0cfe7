"""Kernels: the :class:`Kernel` value, builders, named kernels, the spec parser, kernel files.

Sizes in the Python API are ``(height, width)`` as numpy orders them; in kernel
specs (``mean:7x3``) they are written ``WIDTHxHEIGHT`` as image sizes are
(ImageMagick, libvips).

Kernel-level adjustments (:func:`adjust_kernel`: normalise, scale, correlate)
live here; pixel-level ones (bias, absolute value, channels) in
:mod:`convtool.batch`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from convtool.engine import separable_factors
from convtool.errors import KernelError, UsageError

# Kernels with more taps than this are refused before anything is allocated:
# 4097 x 4097 is already 134 MB of float64 and larger than most photos.
MAX_KERNEL_TAPS = 4097 * 4097
MAX_KERNEL_SIDE = 16385
# A kernel whose sum is below this fraction of the sum of its absolute values
# counts as zero-sum: float rounding leaves e.g. 1e-17 where the maths says 0,
# and dividing by that would blow the image up.
ZERO_SUM_RTOL = 1e-9


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
    offset : float
        Added to every output sample after filtering, on the 0..1 scale; set
        by a libvips ``.mat`` header, 0 otherwise.
    """

    array: np.ndarray
    name: str = "kernel"
    factors: tuple[np.ndarray, ...] | None = field(default=None)
    offset: float = 0.0

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

    @property
    def zero_sum(self) -> bool:
        """Whether the values sum to 0, to rounding (edge detectors, Laplacians)."""
        return abs(self.sum) <= ZERO_SUM_RTOL * float(np.abs(self.array).sum())

    def normalized(self) -> Kernel:
        """This kernel divided by its sum; a zero-sum kernel is an error."""
        total = self.sum
        if self.zero_sum:
            msg = (f"{self.name}: cannot normalise a kernel whose values sum to 0 "
                   "(edge detectors and Laplacians do); use --normalize auto or none")
            raise KernelError(msg)
        return self.scaled(1.0 / total)

    def scaled(self, factor: float) -> Kernel:
        """This kernel with every value multiplied by ``factor``."""
        factors = None
        if self.factors is not None:
            factors = (self.factors[0] * factor, *self.factors[1:])
        return Kernel(self.array * factor, name=self.name, factors=factors, offset=self.offset)


def _check_taps(shape, name: str) -> None:
    if any(s > MAX_KERNEL_SIDE for s in shape) or math.prod(shape) > MAX_KERNEL_TAPS:
        size = "x".join(str(s) for s in reversed(shape))
        size += "-tap" if len(shape) == 1 else ""
        msg = (f"{name}: a {size} kernel is too large (at most {MAX_KERNEL_SIDE} per side "
               f"and {MAX_KERNEL_TAPS} values)")
        raise KernelError(msg)


def _check_finite(value, what: str) -> float:
    """``value`` as a finite float, or a UsageError naming ``what`` (e.g. "motion: angle")."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        msg = f"{what} must be a number, got {value!r}"
        raise UsageError(msg) from None
    if not math.isfinite(v):
        msg = f"{what} must be a finite number, got {value!r}"
        raise UsageError(msg)
    return v


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
        msg = (f"gaussian: sigma {sigma:g} is too large: radius {radius} needs a kernel "
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
    name = f"gaussian(sigma={sx:g})" if sy == sx else f"gaussian(sigma={sx:g}x{sy:g})"
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


def _parse_rows(lines, source: str, unit: str = "line") -> np.ndarray:
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
                msg = f"{source}, {unit} {number}: {token!r} is not a number"
                raise KernelError(msg) from None
            if not math.isfinite(v):
                msg = f"{source}, {unit} {number}: {token!r} is not a finite number"
                raise KernelError(msg)
            values.append(v)
        if rows and len(values) != len(rows[0]):
            msg = (f"{source}, {unit} {number}: {len(values)} values, but {unit} {first_line} "
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


def _parse_mat(text: str, path: str) -> Kernel:
    """A libvips matrix file: ``width height [scale [offset]]`` then the rows."""
    source = f"kernel file {path}"
    # libvips accepts spaces, tabs, commas and double quotes between numbers.
    lines = [(n, line.replace('"', " ").replace("\t", " "))
             for n, line in enumerate(text.splitlines(), 1)
             if line.split("#", 1)[0].strip()]
    if not lines:
        msg = f"{source}: empty: a .mat file starts with 'width height [scale [offset]]'"
        raise KernelError(msg)
    (hnum, hline), body = lines[0], lines[1:]
    header = _parse_rows([(hnum, hline)], source)[0]
    if not 2 <= header.size <= 4:
        msg = (f"{source}, line {hnum}: the header must be 'width height [scale [offset]]', "
               f"got {header.size} numbers")
        raise KernelError(msg)
    width, height = header[0], header[1]
    for what, v in (("width", width), ("height", height)):
        if not v.is_integer() or v < 1:
            msg = f"{source}, line {hnum}: {what} must be a whole number >= 1, got {v:g}"
            raise KernelError(msg)
    width, height = int(width), int(height)
    _check_taps((height, width), source)
    scale = float(header[2]) if header.size > 2 else 1.0
    offset = float(header[3]) if header.size > 3 else 0.0
    if scale == 0.0:
        msg = f"{source}, line {hnum}: scale must not be 0 (libvips divides by it)"
        raise KernelError(msg)
    if len(body) != height:
        msg = f"{source}: the header says {height} rows, the file has {len(body)}"
        raise KernelError(msg)
    rows = _parse_rows(body, source)
    if rows.shape[1] != width:
        msg = f"{source}: the header says {width} columns, the rows have {rows.shape[1]}"
        raise KernelError(msg)
    # libvips: out = sum(p * m) / scale + offset, offset in 0..255 for 8-bit images.
    return Kernel(rows / scale, name=os.path.basename(path), offset=offset / 255.0)


def load_kernel(path) -> Kernel:
    """Read a kernel from a text, CSV, ``.npy`` or libvips ``.mat`` file.

    In text and CSV files numbers are separated by whitespace or commas, one
    kernel row per line; ``#`` starts a comment. A ``.mat`` file is libvips's
    matrix format: a header line ``width height [scale [offset]]`` and then the
    rows; the kernel is divided by ``scale`` and ``offset`` (in 8-bit units,
    0..255, as libvips applies it to 8-bit images) becomes
    :attr:`Kernel.offset` on the 0..1 scale. Errors name the file and the line.
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
    is_mat = path.lower().endswith(".mat")
    try:
        with open(path, encoding="utf-8") as f:
            if is_mat:  # a header line, then the rows: small by its own declaration
                return _parse_mat(f.read(), path)
            # Parsed line by line, so a huge file is refused early (see _parse_rows).
            array = _parse_rows(enumerate(f, 1), f"kernel file {path}")
    except UnicodeDecodeError:
        msg = (f"kernel file {path}: not a text file of numbers (nor a .npy file; "
               ".mat files must be libvips text matrices, not MATLAB files)")
        raise KernelError(msg) from None
    except OSError as e:
        msg = f"kernel file {path}: cannot read it ({e.strerror})"
        raise KernelError(msg) from None
    return Kernel(array, name=name)


# --------------------------------------------------------------------------
# Named kernels: the weights are data. Every array is written as it is
# convolved (the engine flips it), so SOBEL_X responds positively where the
# image gets brighter to the right, as scipy.ndimage.sobel(axis=1) does.
# --------------------------------------------------------------------------

IDENTITY = np.array([[1.0]])
SHARPEN = np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]])
EMBOSS = np.array([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])
LAPLACIAN_4 = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
LAPLACIAN_8 = np.array([[1.0, 1, 1], [1, -8, 1], [1, 1, 1]])

# Gradient operators are a smoothing vector across the derivative's axis and
# the central difference [1, 0, -1] along it (unnormalised, as published and
# as scipy.ndimage.sobel / prewitt).
DIFFERENCE = np.array([1.0, 0.0, -1.0])
GRADIENT_SMOOTHING = {
    "sobel": np.array([1.0, 2.0, 1.0]),
    "scharr": np.array([3.0, 10.0, 3.0]),
    "prewitt": np.array([1.0, 1.0, 1.0]),
}
GradientOperator = Literal["sobel", "scharr", "prewitt"]


def gradient_kernel(operator: GradientOperator, axis: Literal["x", "y"]) -> Kernel:
    """The x or y kernel of a gradient operator: ``smoothing x [1, 0, -1]``.

    Parameters
    ----------
    operator : {"sobel", "scharr", "prewitt"}
    axis : {"x", "y"}
        ``"x"`` responds to brightness rising to the right, ``"y"`` downwards
        (image rows grow downwards).

    Examples
    --------
    >>> gradient_kernel("sobel", "x").array
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.],
           [ 1.,  0., -1.]])
    """
    if operator not in GRADIENT_SMOOTHING:
        msg = f"unknown gradient operator {operator!r}: choose {', '.join(GRADIENT_SMOOTHING)}"
        raise UsageError(msg)
    if axis not in ("x", "y"):
        msg = f"{operator}: axis must be 'x' or 'y', got {axis!r}"
        raise UsageError(msg)
    smooth = GRADIENT_SMOOTHING[operator]
    column, row = (smooth, DIFFERENCE) if axis == "x" else (DIFFERENCE, smooth)
    return Kernel(np.outer(column, row), name=f"{operator}-{axis}", factors=(column, row))


def sobel_kernel(axis: Literal["x", "y"]) -> Kernel:
    """Sobel's ``[1 2 1]^T [1 0 -1]`` (x) or its transpose (y)."""
    return gradient_kernel("sobel", axis)


def scharr_kernel(axis: Literal["x", "y"]) -> Kernel:
    """Scharr's ``[3 10 3]^T [1 0 -1]`` (x) or its transpose (y)."""
    return gradient_kernel("scharr", axis)


def prewitt_kernel(axis: Literal["x", "y"]) -> Kernel:
    """Prewitt's ``[1 1 1]^T [1 0 -1]`` (x) or its transpose (y)."""
    return gradient_kernel("prewitt", axis)


def laplacian_kernel(neighbours: int = 4) -> Kernel:
    """The 3x3 Laplacian over 4 or 8 neighbours (centre -4 or -8, sum 0)."""
    if neighbours not in (4, 8):
        msg = f"laplacian: neighbours must be 4 or 8, got {neighbours!r}"
        raise UsageError(msg)
    return Kernel(LAPLACIAN_4 if neighbours == 4 else LAPLACIAN_8, name=f"laplacian({neighbours})")


def disk_kernel(radius: float) -> Kernel:
    """A normalised disc: equal weights on the pixels within ``radius`` of the centre.

    The kernel is ``2 * floor(radius) + 1`` wide; a pixel belongs to the disc
    when its centre is at most ``radius`` from the kernel's centre.
    """
    radius = _check_positive(radius, "radius", "disk")
    r = math.floor(radius)
    _check_taps((2 * r + 1, 2 * r + 1), "disk")
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    inside = (x * x + y * y <= radius * radius).astype(np.float64)
    return Kernel(inside / inside.sum(), name=f"disk({radius:g})")


def motion_kernel(length: float, angle: float = 0.0) -> Kernel:
    """A normalised line kernel: motion blur of ``length`` pixels at ``angle`` degrees.

    The angle is counter-clockwise from the x axis as the image is seen (rows
    grow downwards). Each pixel's weight is ``max(0, 1 - d)`` for its distance
    ``d`` to the line segment, so lines at any angle are anti-aliased; a
    horizontal line of odd length is exactly ``1/length`` over one row.
    """
    length = _check_positive(length, "length", "motion")
    angle = _check_finite(angle, "motion: angle")
    half = (length - 1.0) / 2.0
    r = math.ceil(half) + 1
    _check_taps((2 * r + 1, 2 * r + 1), "motion")
    theta = math.radians(angle)
    ux, uy = math.cos(theta), -math.sin(theta)
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    along = np.clip(x * ux + y * uy, -half, half)
    d = np.hypot(x - along * ux, y - along * uy)
    w = np.clip(1.0 - d, 0.0, None)
    w[np.abs(w) < 1e-12] = 0.0
    # Trim empty outer rows and columns in pairs so the centre stays the centre.
    while w.shape[0] > 1 and not w[0].any() and not w[-1].any():
        w = w[1:-1]
    while w.shape[1] > 1 and not w[:, 0].any() and not w[:, -1].any():
        w = w[:, 1:-1]
    return Kernel(w / w.sum(), name=f"motion(length={length:g},angle={angle:g})")


def log_kernel(sigma: float, radius: int | None = None) -> Kernel:
    """Laplacian of Gaussian, as scipy.ndimage.gaussian_laplace, made exactly zero-sum.

    Built from the sampled, normalised Gaussian ``g`` and its second derivative
    ``g2 = g * (x**2 - sigma**2) / sigma**4`` as ``outer(g2, g) + outer(g, g2)``
    (negative at the centre). ``g2`` is shifted by a multiple of ``g`` so that
    it sums to 0: a flat image gives 0, not a rounding residue.
    """
    sigma = _check_positive(sigma, "sigma", "log")
    g = gaussian_1d(sigma, radius)
    _check_taps((g.size, g.size), "log")
    r = g.size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    g2 = g * (x * x - sigma * sigma) / sigma**4
    g2 -= g2.sum() * g
    array = np.outer(g2, g) + np.outer(g, g2)
    return Kernel(array, name=f"log(sigma={sigma:g})")


# --------------------------------------------------------------------------
# The spec language: NAME[:ARGS], an inline matrix, or a file.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "sigma", "size", "radius" (each may be WxH), "positive", "number", "int"
    default: object = None
    required: bool = False


@dataclass(frozen=True)
class NamedKernel:
    """One entry of :data:`NAMED_KERNELS`: how a spec name builds its kernel."""

    name: str
    params: tuple
    build: object
    description: str
    example: str


def _pair(value):
    # Specs write sizes WIDTHxHEIGHT; builders take (height, width).
    return value if isinstance(value, float | int) else (value[1], value[0])


def _build_gaussian(sigma, radius=None):
    return gaussian_kernel(_pair(sigma), None if radius is None else _pair(radius))


def _build_mean(size):
    return mean_kernel(_pair(size))


def _constant(array, name):
    def build():
        return Kernel(array, name=name)
    return build


def _gradient(operator, axis):
    def build():
        return gradient_kernel(operator, axis)
    return build


_SIGMA = _Param("sigma", "sigma", required=True)
NAMED_KERNELS: dict[str, NamedKernel] = {}


def _register(name, params, build, description, example):
    NAMED_KERNELS[name] = NamedKernel(name, tuple(params), build, description, example)


_register("gaussian", [_SIGMA, _Param("radius", "radius")], _build_gaussian,
          "Gaussian blur; SX x SY for an anisotropic one; radius defaults to 4 sigma",
          "gaussian:2, gaussian:sigma=2,radius=6, gaussian:3x1")
_register("mean", [_Param("size", "size", required=True)], _build_mean,
          "box average, SIZE or WIDTHxHEIGHT", "mean:5, mean:7x3")
_register("box", [_Param("size", "size", required=True)], _build_mean,
          "same as mean", "box:5")
_register("identity", [], _constant(IDENTITY, "identity"),
          "1x1 kernel [1]: leaves the image unchanged", "identity")
_register("sharpen", [], _constant(SHARPEN, "sharpen"),
          "3x3 sharpen [0 -1 0; -1 5 -1; 0 -1 0]", "sharpen")
_register("emboss", [], _constant(EMBOSS, "emboss"),
          "3x3 emboss [-2 -1 0; -1 1 1; 0 1 2]", "emboss")
_register("laplacian", [_Param("neighbours", "int", default=4)],
          lambda neighbours=4: laplacian_kernel(neighbours),
          "3x3 Laplacian over 4 (default) or 8 neighbours, zero-sum", "laplacian, laplacian:8")
for _op in GRADIENT_SMOOTHING:
    _smooth = "[" + " ".join(f"{v:g}" for v in GRADIENT_SMOOTHING[_op]) + "]"
    for _axis, _where, _form in (("x", "rising to the right", f"{_smooth}ᵀ [1 0 -1]"),
                                 ("y", "rising downwards", f"[1 0 -1]ᵀ {_smooth}")):
        _register(f"{_op}-{_axis}", [], _gradient(_op, _axis),
                  f"{_op.capitalize()} gradient {_form}, positive for brightness {_where}",
                  f"{_op}-{_axis}")
_register("disk", [_Param("radius", "positive", required=True)],
          lambda radius: disk_kernel(radius),
          "normalised disc of radius R (pixels within R of the centre)", "disk:3")
_register("motion", [_Param("length", "positive", required=True),
                     _Param("angle", "number", 0.0)],
          lambda length, angle=0.0: motion_kernel(length, angle),
          "motion blur: a line of L pixels at A degrees counter-clockwise",
          "motion:length=9,angle=30, motion:9")
_register("log", [_Param("sigma", "positive", required=True), _Param("radius", "int")],
          lambda sigma, radius=None: log_kernel(sigma, radius),
          "Laplacian of Gaussian (zero-sum, negative centre); radius defaults to 4 sigma",
          "log:2")

# Forms that are not names, for `convtool kernels`.
SPEC_FORMS = [
    ("1 2 1; 2 4 2; 1 2 1", "inline matrix: rows split by ';', numbers by spaces or commas"),
    ("@PATH or PATH", "a kernel file: text or CSV rows, .npy array, or libvips .mat matrix"),
]

_NUMBERS = re.compile(r"^[\s0-9eE+\-.,;]+$")
_FILE_SUFFIXES = (".txt", ".csv", ".npy", ".mat", ".tsv", ".dat")


def _value(text: str, param: _Param, kernel: str):
    """Convert one spec argument to the type its parameter takes."""
    t = text.strip()
    if param.kind in ("sigma", "size", "radius") and "x" in t.lower():
        parts = t.lower().split("x")
        if len(parts) != 2:
            msg = f"{kernel}: {param.name} {t!r} is not a number or WIDTHxHEIGHT"
            raise KernelError(msg)
        one = _Param(param.name, param.kind)
        return tuple(_value(p, one, kernel) for p in parts)
    try:
        v = float(t)
    except ValueError:
        msg = f"{kernel}: {param.name} must be a number, got {t!r}"
        raise KernelError(msg) from None
    if param.kind in ("sigma", "positive") and not (math.isfinite(v) and v > 0):
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
    array = _parse_rows(rows, f"kernel {spec!r}", unit="row")
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
    if (_NUMBERS.match(text) and any(c.isdigit() for c in text)) or (
            ";" in text or text[0] in "0123456789+-."):
        return _parse_inline(text)
    looks_like_path = (os.sep in text or "/" in text or text.lower().endswith(_FILE_SUFFIXES)
                       or os.path.exists(text))
    if looks_like_path:
        return load_kernel(text)
    close = difflib.get_close_matches(key, NAMED_KERNELS, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    msg = (f"unknown kernel {name.strip()!r}: {hint}see 'convtool kernels' for the names; "
           "a matrix is written '1 2 1; 2 4 2; 1 2 1' and a file '@path'")
    raise KernelError(msg)


# --------------------------------------------------------------------------
# Kernel-level adjustments shared by every filtering command.
# --------------------------------------------------------------------------

Normalize = Literal["auto", "sum", "none"]
NORMALIZE_CHOICES: tuple[str, ...] = ("auto", "sum", "none")


def normalize_kernel(kernel: Kernel, how: str = "auto") -> Kernel:
    """Divide by the sum: always (``"sum"``), unless zero-sum (``"auto"``), never (``"none"``).

    ``"sum"`` on a zero-sum kernel (an edge detector) is a :class:`KernelError`;
    ``"auto"`` leaves it alone.
    """
    how = str(how).strip().lower()
    if how not in NORMALIZE_CHOICES:
        msg = f"unknown normalize {how!r}: choose one of {', '.join(NORMALIZE_CHOICES)}"
        raise UsageError(msg)
    if how == "none" or (how == "auto" and kernel.zero_sum):
        return kernel
    return kernel.normalized()


def flip_kernel(kernel: Kernel) -> Kernel:
    """The kernel that, convolved, gives the correlation with ``kernel``.

    The engine convolves with the origin at index ``k // 2`` (as
    scipy.ndimage.convolve). Flipping alone would put the correlation's origin
    at ``k // 2 - 1`` along an even axis; a zero is therefore put in front of
    the flipped weights along every even axis, so the result equals
    ``scipy.ndimage.correlate`` (origin ``k // 2``) for odd and even sizes.
    The kernel grows by one along even axes.
    """
    def flip(a, axes):
        a = np.flip(a, axis=axes)
        pad = [(1, 0) if a.shape[i] % 2 == 0 else (0, 0) for i in range(a.ndim)]
        return np.pad(a, pad)

    array = flip(kernel.array, tuple(range(kernel.array.ndim)))
    factors = None
    if kernel.factors is not None:
        factors = tuple(flip(f, 0) for f in kernel.factors)
    return Kernel(array, name=f"{kernel.name} (correlated)", factors=factors,
                  offset=kernel.offset)


def adjust_kernel(kernel: Kernel, *, normalize: str = "none", scale: float = 1.0,
                  correlate: bool = False) -> Kernel:
    """Apply the shared kernel options in order: normalise, multiply by ``scale``, flip.

    Parameters
    ----------
    normalize : {"auto", "sum", "none"}
        See :func:`normalize_kernel`.
    scale : float
        Multiplies every weight after normalisation (ImageMagick's
        ``convolve:scale``).
    correlate : bool
        Correlate instead of convolve (do not flip the kernel); see
        :func:`flip_kernel` for even sizes.
    """
    kernel = normalize_kernel(kernel, normalize)
    scale = _check_finite(scale, "scale")
    if scale != 1.0:
        kernel = kernel.scaled(scale)
    if correlate:
        kernel = flip_kernel(kernel)
    return kernel


def response_bound(kernel: Kernel) -> float:
    """The largest ``|response|`` the kernel can give on data in 0..1.

    That is the larger of the sums of its positive and of its negative weights.
    """
    a = kernel.array
    return float(max(a[a > 0].sum(), -a[a < 0].sum()))


def unsharp_kernel(sigma: float, amount: float, radius: int | None = None) -> Kernel:
    """Unsharp masking as one kernel: ``(1 + amount) * identity - amount * gaussian``.

    Convolving with it gives ``image + amount * (image - gaussian(image))``.
    """
    try:
        amount = float(amount)
    except (TypeError, ValueError):
        msg = f"sharpen: amount must be a number, got {amount!r}"
        raise UsageError(msg) from None
    if not math.isfinite(amount) or amount < 0:
        msg = f"sharpen: amount must be a finite number >= 0, got {amount!r}"
        raise UsageError(msg)
    blur = gaussian_kernel(sigma, radius)
    array = -amount * blur.array
    cy, cx = (s // 2 for s in array.shape)
    array[cy, cx] += 1.0 + amount
    return Kernel(array, name=f"unsharp(sigma={sigma},amount={amount:g})")


def parse_size(text: str, what: str = "--size") -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` (or one number for a square) as ``(height, width)``."""
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        msg = f"{what} {text!r}: write WIDTHxHEIGHT in pixels, e.g. 1920x1080"
        raise UsageError(msg)
    w, h = (values * 2)[:2]
    return h, w
