"""Kernel builders: Gaussian, mean, gradients, Laplacian, disc, motion, LoG, unsharp.

Kernels are data where they can be: the named weights are module constants.
Every array is written as it is convolved (the engine flips it), so SOBEL x
responds positively where the image gets brighter to the right, as
scipy.ndimage.sobel(axis=1) does.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from convtool.errors import UsageError
from convtool.kernels.choices import GradientOperator
from convtool.kernels.model import (
    MAX_KERNEL_SIDE,
    Kernel,
    check_finite,
    check_positive,
    check_taps,
)

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


def _is_zero(value) -> bool:
    try:
        return float(value) == 0.0
    except (TypeError, ValueError):
        return False


def gaussian_1d(sigma: float, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian weights over ``-radius..radius``.

    The radius defaults to ``round(4 * sigma)``, scipy.ndimage's ``truncate=4.0``.
    Sigma 0 is the identity ``[1]`` (zeros around it when a radius is given), as
    scipy.ndimage and ImageMagick treat it.

    Examples
    --------
    >>> gaussian_1d(1.0).round(3)
    array([0.   , 0.004, 0.054, 0.242, 0.399, 0.242, 0.054, 0.004, 0.   ])
    """
    sigma = 0.0 if _is_zero(sigma) else check_positive(sigma, "sigma", "gaussian")
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
    if sigma == 0.0:
        return (x == 0).astype(np.float64)
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
    check_taps((column.size, row.size), "gaussian")
    name = f"gaussian(sigma={sx:g})" if sy == sx else f"gaussian(sigma={sx:g}x{sy:g})"
    return Kernel(np.outer(column, row), name=name, factors=(column, row))


def mean_kernel(size) -> Kernel:
    """A box (mean) kernel: every weight ``1 / (height * width)``.

    Parameters
    ----------
    size : int or (int, int)
        Side length, or ``(height, width)``.

    Examples
    --------
    >>> mean_kernel((1, 3)).array
    array([[0.33333333, 0.33333333, 0.33333333]])
    """
    h, w = (size, size) if np.ndim(size) == 0 else tuple(size)
    for v in (h, w):
        if isinstance(v, bool) or not float(v).is_integer() or v < 1:
            msg = f"mean: size must be a whole number >= 1, got {size!r}"
            raise UsageError(msg)
    h, w = int(h), int(w)
    check_taps((h, w), "mean")
    column, row = np.full(h, 1.0 / h), np.full(w, 1.0 / w)
    return Kernel(np.full((h, w), 1.0 / (h * w)), name=f"mean({w}x{h})", factors=(column, row))



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



def laplacian_kernel(neighbours: int = 4) -> Kernel:
    """The 3x3 Laplacian over 4 or 8 neighbours (centre -4 or -8, sum 0).

    Examples
    --------
    >>> laplacian_kernel(8).array
    array([[ 1.,  1.,  1.],
           [ 1., -8.,  1.],
           [ 1.,  1.,  1.]])
    """
    if neighbours not in (4, 8):
        msg = f"laplacian: neighbours must be 4 or 8, got {neighbours!r}"
        raise UsageError(msg)
    return Kernel(LAPLACIAN_4 if neighbours == 4 else LAPLACIAN_8, name=f"laplacian({neighbours})")


def disk_kernel(radius: float) -> Kernel:
    """A normalised disc: equal weights on the pixels within ``radius`` of the centre.

    The kernel is ``2 * floor(radius) + 1`` wide; a pixel belongs to the disc
    when its centre is at most ``radius`` from the kernel's centre.

    Examples
    --------
    >>> disk_kernel(1).array * 5
    array([[0., 1., 0.],
           [1., 1., 1.],
           [0., 1., 0.]])
    """
    radius = check_positive(radius, "radius", "disk")
    r = math.floor(radius)
    check_taps((2 * r + 1, 2 * r + 1), "disk")
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    inside = (x * x + y * y <= radius * radius).astype(np.float64)
    return Kernel(inside / inside.sum(), name=f"disk({radius:g})")


def motion_kernel(length: float, angle: float = 0.0) -> Kernel:
    """A normalised line kernel: motion blur of ``length`` pixels at ``angle`` degrees.

    The angle is counter-clockwise from the x axis as the image is seen (rows
    grow downwards). Each pixel's weight is ``max(0, 1 - d)`` for its distance
    ``d`` to the line segment, so lines at any angle are anti-aliased; a
    horizontal line of odd length is exactly ``1/length`` over one row.

    Examples
    --------
    >>> motion_kernel(3).array * 3
    array([[1., 1., 1.]])
    """
    length = check_positive(length, "length", "motion")
    angle = check_finite(angle, "motion: angle")
    half = (length - 1.0) / 2.0
    r = math.ceil(half) + 1
    check_taps((2 * r + 1, 2 * r + 1), "motion")
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

    Examples
    --------
    >>> k = log_kernel(1.0)
    >>> k.shape, k.zero_sum, bool(k.array[4, 4] < 0)
    ((9, 9), True, True)
    """
    sigma = check_positive(sigma, "sigma", "log")
    g = gaussian_1d(sigma, radius)
    check_taps((g.size, g.size), "log")
    r = g.size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    if sigma**4 == 0.0:  # sigma**4 underflows: the formula divides 0 by 0
        msg = f"log: sigma {sigma:g} is too small (sigma**4 underflows to 0)"
        raise UsageError(msg)
    g2 = g * (x * x - sigma * sigma) / sigma**4
    g2 -= g2.sum() * g
    array = np.outer(g2, g) + np.outer(g, g2)
    return Kernel(array, name=f"log(sigma={sigma:g})")



def unsharp_kernel(sigma: float, amount: float, radius: int | None = None) -> Kernel:
    """Unsharp masking as one kernel: ``(1 + amount) * identity - amount * gaussian``.

    Convolving with it gives ``image + amount * (image - gaussian(image))``.

    Examples
    --------
    >>> k = unsharp_kernel(1.0, amount=0.5)
    >>> k.shape, round(k.sum, 12)
    ((9, 9), 1.0)
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
