"""The :class:`Kernel` value type, the size limits, and the checks every builder shares."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from convtool.errors import KernelError, UsageError

# Kernels with more taps than this are refused before anything is allocated:
# 4097 x 4097 is already 134 MB of float64 and larger than most photos.
MAX_KERNEL_TAPS = 4097 * 4097
MAX_KERNEL_SIDE = 16385
# A kernel whose sum is below this fraction of the sum of its absolute values
# counts as zero-sum: float rounding leaves e.g. 1e-17 where the maths says 0,
# and dividing by that would blow the image up.
ZERO_SUM_RTOL = 1e-9


class Kernel:
    """A convolution kernel (immutable; compared by identity).

    Parameters
    ----------
    array : ndarray, shape (KH, KW) or (K,)
        The weights, float64. Stored read-only.
    name : str
        How messages refer to the kernel, e.g. ``"gaussian(sigma=2)"``.
    factors : tuple of 1-D arrays, callable or None
        ``(column, row)`` with ``np.outer(column, row) == array`` for a
        separable 2-D kernel. None: found on first use of :attr:`factors`
        (with :func:`convtool.engine.separable_factors`), once per kernel; a
        callable is called on first use and returns such a pair or None.
    offset : float
        Added to every output sample after filtering, on the 0..1 scale; set
        by a libvips ``.mat`` header, 0 otherwise.

    Examples
    --------
    >>> k = Kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]], name="binomial")
    >>> k
    Kernel(binomial, shape=(3, 3), sum=16)
    >>> k.separable, k.zero_sum
    (True, False)
    >>> k.normalized().sum
    1.0
    """

    def __init__(self, array, name: str = "kernel", factors=None, offset: float = 0.0):
        a = np.array(array, dtype=np.float64)
        if a.ndim == 0 or a.size == 0:
            msg = f"{name}: a kernel needs at least one value"
            raise KernelError(msg)
        if not np.all(np.isfinite(a)):
            msg = f"{name}: kernel contains NaN or infinite values"
            raise KernelError(msg)
        _check_no_overflow(a, name)
        a.setflags(write=False)
        pending, known = None, None
        if factors is None:
            pending = functools.partial(_find_factors, a) if a.ndim == 2 else None
        elif callable(factors):
            pending = factors
        else:
            known = _read_only_factors(factors)
        for attr, value in (("array", a), ("name", name), ("offset", offset),
                            ("_pending", pending), ("_factors", known)):
            object.__setattr__(self, attr, value)

    def __setattr__(self, name, value):
        msg = f"cannot assign to field {name!r}"
        raise dataclasses.FrozenInstanceError(msg)

    def __delattr__(self, name):
        msg = f"cannot delete field {name!r}"
        raise dataclasses.FrozenInstanceError(msg)

    @property
    def factors(self) -> tuple[np.ndarray, ...] | None:
        """``(column, row)`` of a separable 2-D kernel, or None; worked out on first use."""
        if self._pending is not None:
            object.__setattr__(self, "_factors", _read_only_factors(self._pending()))
            object.__setattr__(self, "_pending", None)
        return self._factors

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
                   "(edge detectors and Laplacians do); use normalize auto or none")
            raise KernelError(msg, params=("normalize",))
        return self.scaled(1.0 / total)

    def scaled(self, factor: float) -> Kernel:
        """This kernel with every value multiplied by ``factor``."""
        factors = derived_factors(self, functools.partial(_scale_first, factor))
        with np.errstate(over="ignore"):
            array = self.array * factor
        if not np.all(np.isfinite(array)):
            msg = f"{self.name}: multiplying the weights by {factor:g} overflows"
            raise KernelError(msg)
        return Kernel(array, name=self.name, factors=factors, offset=self.offset)


def _check_no_overflow(a: np.ndarray, name: str) -> None:
    """Refuse weights whose absolute sum overflows float64 (e.g. '1e308 1e308 1e308').

    Every later step (normalising, the response bound, the convolution) sums them.
    """
    peak = float(np.abs(a).max())
    if peak * a.size <= np.finfo(np.float64).max:
        return
    try:
        math.fsum(np.abs(a).ravel().tolist())
    except OverflowError:
        msg = (f"{name}: the weights are too large: their sum overflows "
               f"(beyond {np.finfo(np.float64).max:.3g})")
        raise KernelError(msg) from None


def _find_factors(array: np.ndarray):
    from convtool.engine import separable_factors

    return separable_factors(array)


def _read_only_factors(factors):
    if factors is None:
        return None
    factors = tuple(np.array(f, dtype=np.float64) for f in factors)
    for f in factors:
        f.setflags(write=False)
    return factors


def derived_factors(kernel: Kernel, transform):
    """Factors for a kernel made from ``kernel``: ``transform(kernel.factors)``.

    Computed now when ``kernel``'s factors are known, else on first use of the
    new kernel's :attr:`Kernel.factors` (no factorisation just to build it).
    ``transform`` is called with a ``(column, row)`` pair, never with None.
    """
    if kernel._pending is None:
        return _apply_to_factors_of(kernel, transform)
    return functools.partial(_apply_to_factors_of, kernel, transform)


def _apply_to_factors_of(kernel: Kernel, transform):
    factors = kernel.factors
    return None if factors is None else transform(factors)


def _scale_first(factor: float, factors):
    return (factors[0] * factor, *factors[1:])


def check_taps(shape, name: str) -> None:
    if any(s > MAX_KERNEL_SIDE for s in shape) or math.prod(shape) > MAX_KERNEL_TAPS:
        size = "x".join(str(s) for s in reversed(shape))
        size += "-tap" if len(shape) == 1 else ""
        msg = (f"{name}: a {size} kernel is too large (at most {MAX_KERNEL_SIDE} per side "
               f"and {MAX_KERNEL_TAPS} values)")
        raise KernelError(msg)


def check_finite(value, what: str) -> float:
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


def check_positive(value, what: str, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        msg = f"{name}: {what} must be a number, got {value!r}"
        raise UsageError(msg) from None
    if not math.isfinite(v) or v <= 0:
        msg = f"{name}: {what} must be a positive finite number, got {value!r}"
        raise UsageError(msg)
    return v

