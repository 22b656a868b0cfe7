"""A brute-force float64 convolution: the reference every engine path is checked against.

Written for clarity, not speed: one output sample at a time, one tap at a time,
with each boundary mode spelled out as an index rule.
"""

import itertools

import numpy as np


def extend_index(i: int, n: int, mode: str):
    """Map index ``i`` of an axis of length ``n`` into ``0..n-1``, or None for constant."""
    if 0 <= i < n:
        return i
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":  # d c b a | a b c d | d c b a: period 2n
        i %= 2 * n
        return i if i < n else 2 * n - 1 - i
    if mode == "mirror":  # d c b | a b c d | c b a: period 2n - 2
        if n == 1:
            return 0
        i %= 2 * n - 2
        return i if i < n else 2 * n - 2 - i
    raise ValueError(mode)


def brute_convolve(array, kernel, mode="reflect", cval=0.0):
    """True convolution over the leading ``kernel.ndim`` axes, origin at ``k // 2``."""
    a = np.asarray(array, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    nd = k.ndim
    spatial = a.shape[:nd]
    out = np.zeros_like(a)
    centre = [s // 2 for s in k.shape]
    for i in itertools.product(*(range(s) for s in spatial)):
        total = np.zeros(a.shape[nd:])
        for j in itertools.product(*(range(s) for s in k.shape)):
            src = []
            for axis in range(nd):
                src.append(extend_index(i[axis] + centre[axis] - j[axis], spatial[axis], mode))
            value = cval if any(s is None for s in src) else a[tuple(src)]
            total = total + k[j] * value
        out[i] = total
    return out
