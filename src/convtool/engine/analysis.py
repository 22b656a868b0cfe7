"""Kernel analysis: separable factors, numerical rank, symmetry, box. Once per kernel.

:func:`analyse` caches its result for the last few kernels, so that planning the
same kernel again (a second image, the second kernel of a gradient pair, a
``kernel show``) does not repeat the SVD, which takes seconds for a 401x401 kernel.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

# A 2-D kernel whose second singular value is below this fraction of the first
# is treated as rank 1 (separable). float32 data cannot tell the difference;
# float64 data can, so its convolutions split kernels only to a much finer
# tolerance (a 1e-10 part of a kernel once went missing from a float64 result).
SEPARABLE_RTOL = 1e-6
SEPARABLE_RTOL_FLOAT64 = 1e-13


def compute_dtype(dtype) -> np.dtype:
    """The dtype the engine computes in for input of ``dtype``: float32 stays, the rest float64."""
    dt = np.dtype(dtype)
    return np.dtype(np.float32) if dt.kind == "f" and dt.itemsize == 4 else np.dtype(np.float64)


def rank_rtol(dtype) -> float:
    """The one rank tolerance rule: finer for data computed in float64."""
    return SEPARABLE_RTOL_FLOAT64 if compute_dtype(dtype) == np.float64 else SEPARABLE_RTOL


def _dyadic_scale(k: np.ndarray):
    """``e`` such that ``k * 2**e`` holds only integers up to 2**24, or None.

    Every float is an integer times a power of two; small integers (exact in
    float32, like sobel's 1 2 1 or a 1 2 1 binomial over 16) are what makes
    products with integer data exact.
    """
    nz = np.abs(k[k != 0])
    if nz.size == 0:
        return None
    mant, ex = np.frexp(nz)  # nz = mant * 2**ex with 0.5 <= mant < 1
    ints = np.ldexp(mant, 53).astype(np.int64)  # exact: 53 bits
    low = ints & -ints  # lowest set bit
    trailing = np.frexp(low.astype(np.float64))[1] - 1
    e = max(0, int(np.max(53 - ex - trailing)))
    if e > 1000 or float(nz.max()) * 2.0**e > 2.0**24:
        return None
    return e


def _balance(column: np.ndarray, row: np.ndarray, e: int):
    """``column`` and ``row * 2**-e`` scaled to about the same norm by a power of two.

    Powers of two round nothing, and the norms are taken of the integer factors
    (those of tiny kernels' own values would underflow).
    """
    nc, nr = float(np.linalg.norm(column)), float(np.linalg.norm(row))
    b = round(0.5 * (math.log2(nr) - e - math.log2(nc))) if nc > 0 and nr > 0 else 0
    return np.ldexp(column, b), np.ldexp(row, -e - b)


def _integer_factors(k: np.ndarray):
    """Exact factors of a rank-1 kernel of integers times a power of two (sobel, scharr ...).

    With the column made primitive (its integers divided by their gcd) the row
    is integer too, so both factors and every product are exact: integer data
    filtered directly gives exact integers.
    """
    e = _dyadic_scale(k)
    if e is None:
        return None
    big = np.ldexp(k, e)
    i, j = np.unravel_index(np.argmax(np.abs(big)), big.shape)
    column = big[:, j]
    g = int(np.gcd.reduce(np.abs(column).astype(np.int64)))
    column = column / g
    row = big[i] / column[i]
    if not np.array_equal(np.outer(column, row), big):
        return None
    return _balance(column, row, e)


def _outer_factors(k: np.ndarray):
    """Factors of an exactly rank-1 kernel without an SVD (which can take milliseconds).

    The row and column through the largest value are the factors when their
    outer product reproduces the kernel to rounding; the two are scaled to the
    same norm, as the SVD's would be.
    """
    exact = _integer_factors(k)
    if exact is not None:
        return exact
    i, j = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    peak = k[i, j]
    if peak == 0.0:
        return None
    column, row = k[:, j] / peak, k[i].copy()
    if np.max(np.abs(np.outer(column, row) - k)) > 1e-14 * abs(peak) * max(k.shape):
        return None
    # Give both factors the same norm. Norms are taken of vectors whose largest
    # value is 1: those of a tiny kernel's own values would underflow (1e-236
    # squared is 0) and divide by zero.
    ratio = abs(peak) * np.linalg.norm(row / peak) / np.linalg.norm(column)
    balance = math.sqrt(ratio)
    return column * balance, row / balance


_SVDS: OrderedDict = OrderedDict()
# Each cache keeps at most this many entries, and only kernels of at most this many
# values (1024x1024: an SVD of 16 MB); larger ones are analysed afresh each time
# rather than pinning hundreds of MB.
_CACHE_SIZE = 4
_CACHE_MAX_VALUES = 1 << 20
_LOCK = threading.Lock()


def _key(kernel: np.ndarray, *extra):
    data = np.ascontiguousarray(kernel).tobytes()
    if len(data) > _KEY_BYTES:  # a digest stands for a large kernel in the cache
        import hashlib  # ~5 ms of start-up for the few runs that need it

        data = hashlib.blake2b(data, digest_size=16).digest()
    return (kernel.shape, *extra, data)


#: Kernels up to this many bytes are their own cache key (a 90x90 float64 kernel).
_KEY_BYTES = 1 << 16


def _remember(cache: OrderedDict, key, make):
    """``cache[key]``, made by ``make()`` when missing; the oldest entries are dropped."""
    if key[0] and math.prod(key[0]) > _CACHE_MAX_VALUES:
        return make()
    with _LOCK:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _LOCK:
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


def _svd(kernel: np.ndarray):
    """``np.linalg.svd(kernel)``, remembered: the factors, the rank and the planner all ask."""
    def make():
        parts = np.linalg.svd(kernel)
        for part in parts:
            part.setflags(write=False)
        return parts

    return _remember(_SVDS, _key(kernel), make)


def _low_rank(kernel: np.ndarray, rtol: float):
    """Pairs ``(column, row)`` whose outer products sum to ``kernel`` within ``rtol``.

    The dropped singular values sum to at most ``rtol`` times the largest, which
    bounds the change of any output relative to the kernel's own scale.
    """
    kh, kw = kernel.shape
    if kw == 1:
        return [(kernel[:, 0].copy(), np.ones(1))]
    if kh == 1:
        return [(np.ones(1), kernel[0].copy())]
    quick = _outer_factors(kernel)
    if quick is not None:
        return [quick]
    u, s, vt = _svd(kernel)
    if s[0] == 0.0:
        return [(np.zeros(kh), np.zeros(kw))]
    tail = np.cumsum(s[::-1])[::-1]  # tail[r] = sum of s[r:]
    rank = next((r for r in range(1, s.size) if tail[r] <= rtol * s[0]), s.size)
    return [(u[:, i] * s[i], vt[i].copy()) for i in range(rank)]


def separable_factors(kernel, rtol: float = SEPARABLE_RTOL):
    """Split a rank-1 2-D kernel into a column and a row vector.

    Parameters
    ----------
    kernel : ndarray, shape (KH, KW)
    rtol : float
        The kernel counts as rank 1 when its second singular value is at most
        ``rtol`` times its first.

    Returns
    -------
    (column, row) : tuple of 1-D float64 arrays with ``np.outer(column, row) == kernel``
        (to rounding; exactly for a kernel of integers times a power of two, whose
        factors are then such integers too), or ``None`` when the kernel is not separable.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        return None
    if k.shape[0] == 1:
        return np.ones(1), k[0].copy()
    if k.shape[1] == 1:
        return k[:, 0].copy(), np.ones(1)
    quick = _outer_factors(k)
    if quick is not None:
        column, row = quick
    else:
        u, s, vt = _svd(k)
        if s[0] == 0.0:
            return np.zeros(k.shape[0]), np.zeros(k.shape[1])
        if s[1] > rtol * s[0]:
            return None
        scale = math.sqrt(s[0])
        column, row = u[:, 0] * scale, vt[0] * scale
    # Put the sign on the column so that a positive kernel has positive factors.
    if row.sum() < 0 or (row.sum() == 0 and row[np.argmax(np.abs(row))] < 0):
        column, row = -column, -row
    return column, row


def symmetry(f: np.ndarray) -> int:
    """+1 for symmetric taps, -1 for antisymmetric ones, else 0."""
    if f.size < 3:
        return 0
    tol = 1e-12 * float(np.abs(f).max())
    if np.all(np.abs(f - f[::-1]) <= tol):
        return 1
    if np.all(np.abs(f + f[::-1]) <= tol):
        return -1
    return 0


def box_weight(kernel: np.ndarray):
    """The common value of a kernel whose values are all equal (a box), else None."""
    flat = kernel.ravel()
    if flat.size >= 4 and flat[0] != 0 and np.all(flat == flat[0]):
        return float(flat[0])
    return None


@dataclass(frozen=True, eq=False)
class KernelAnalysis:
    """What the planner needs to know of a 2-D kernel, worked out once.

    ``pairs`` is the low-rank split (one pair for a separable kernel) within
    ``rtol``; ``symmetric`` says, for each pair, whether the column and the row
    fold (symmetric or antisymmetric taps); ``box`` is the common value of a box.
    """

    kernel: np.ndarray
    rtol: float
    pairs: tuple
    symmetric: tuple
    box: float | None

    @property
    def rank(self) -> int:
        return len(self.pairs)


_CACHE: OrderedDict = OrderedDict()


def analyse(kernel: np.ndarray, rtol: float) -> KernelAnalysis:
    """The analysis of a 2-D float64 kernel, from the cache when it was seen lately."""
    def make():
        pairs = tuple(_low_rank(kernel, rtol))
        for col, row in pairs:
            col.setflags(write=False)
            row.setflags(write=False)
        frozen = kernel.copy()
        frozen.setflags(write=False)
        return KernelAnalysis(frozen, rtol, pairs,
                              tuple((symmetry(c) != 0, symmetry(r) != 0) for c, r in pairs),
                              box_weight(kernel))

    return _remember(_CACHE, _key(kernel, rtol), make)
