"""Kernel-level adjustments shared by every filtering command: normalise, scale, flip.

Pixel-level ones (bias, absolute value, channels) live with the filter job.
"""

from __future__ import annotations

import numpy as np

from convtool.errors import UsageError
from convtool.kernels.choices import NORMALIZE_CHOICES
from convtool.kernels.model import Kernel, check_finite, derived_factors


def normalize_kernel(kernel: Kernel, how: str = "auto") -> Kernel:
    """Divide by the sum: always (``"sum"``), unless zero-sum (``"auto"``), never (``"none"``).

    ``"sum"`` on a zero-sum kernel (an edge detector) is a :class:`KernelError`;
    ``"auto"`` leaves it alone.

    Examples
    --------
    >>> from convtool.kernels import parse_kernel
    >>> normalize_kernel(parse_kernel("1 2 1")).array
    array([[0.25, 0.5 , 0.25]])
    >>> normalize_kernel(parse_kernel("sobel-x")).array[0]  # zero-sum: left alone
    array([ 1.,  0., -1.])
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

    Examples
    --------
    >>> from convtool.kernels import parse_kernel
    >>> flip_kernel(parse_kernel("1 2 3")).array
    array([[3., 2., 1.]])
    >>> flip_kernel(parse_kernel("1 2")).array  # even width: a zero in front
    array([[0., 2., 1.]])
    """
    array = _flip(kernel.array, tuple(range(kernel.array.ndim)))
    factors = derived_factors(kernel, _flip_factors)
    return Kernel(array, name=f"{kernel.name} (correlated)", factors=factors,
                  offset=kernel.offset)


def _flip(a: np.ndarray, axes) -> np.ndarray:
    a = np.flip(a, axis=axes)
    pad = [(1, 0) if a.shape[i] % 2 == 0 else (0, 0) for i in range(a.ndim)]
    return np.pad(a, pad)


def _flip_factors(factors):
    return tuple(_flip(f, 0) for f in factors)


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

    Examples
    --------
    >>> from convtool.kernels import parse_kernel
    >>> adjust_kernel(parse_kernel("1 2 1"), normalize="sum", scale=2).array
    array([[0.5, 1. , 0.5]])
    """
    kernel = normalize_kernel(kernel, normalize)
    scale = check_finite(scale, "scale")
    if scale != 1.0:
        kernel = kernel.scaled(scale)
    if correlate:
        kernel = flip_kernel(kernel)
    return kernel


def response_bound(kernel: Kernel) -> float:
    """The largest ``|response|`` the kernel can give on data in 0..1.

    That is the larger of the sums of its positive and of its negative weights.

    Examples
    --------
    >>> from convtool.kernels import parse_kernel
    >>> response_bound(parse_kernel("sobel-x"))
    4.0
    """
    a = kernel.array
    return float(max(a[a > 0].sum(), -a[a < 0].sum()))

