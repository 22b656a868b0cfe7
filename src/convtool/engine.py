"""The convolution engine: N-D convolution of float arrays with boundary modes.

This module imports only numpy (and :mod:`convtool.errors`). It knows nothing of
images: an image is an array whose leading axes are filtered by the kernel and
whose trailing axes (colour channels) are filtered independently.

Boundary modes use scipy.ndimage's names. Extending the row ``a b c d``::

    reflect   d c b a | a b c d | d c b a    (numpy.pad calls this "symmetric")
    mirror      d c b | a b c d | c b a      (numpy.pad calls this "reflect")
    nearest   a a a a | a b c d | d d d d    (alias: "edge")
    wrap      a b c d | a b c d | a b c d
    constant  k k k k | a b c d | k k k k    (k = cval)
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from convtool.errors import UsageError

Mode = Literal["reflect", "mirror", "nearest", "wrap", "constant"]
Method = Literal["auto", "direct", "fft"]

MODES: tuple[str, ...] = ("reflect", "mirror", "nearest", "wrap", "constant")
METHODS: tuple[str, ...] = ("auto", "direct", "fft")
# Other names for the same boundary rules, as scipy.ndimage and ImageMagick spell them.
MODE_ALIASES: dict[str, str] = {
    "edge": "nearest",
    "grid-mirror": "reflect",
    "grid-wrap": "wrap",
    "grid-constant": "constant",
}
_NUMPY_PAD_MODE = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}

# A 2-D kernel whose second singular value is below this fraction of the first
# is treated as rank 1 (separable). float32 data cannot tell the difference.
SEPARABLE_RTOL = 1e-6

# Cost-model constants, in seconds per elementary operation, measured on the
# development machine (2 cores) by ``python benchmarks/calibrate.py``:
#   direct: one multiply-add of one tap over one float32 sample
#   fft:    one unit of N*log2(N) of a real transform pair per sample
_DIRECT_COST = 1.0e-9
_FFT_COST = 2.0e-9
_FFT_OVERHEAD = 1.0e-4


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


def separable_factors(kernel: np.ndarray, rtol: float = SEPARABLE_RTOL):
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
        (to rounding), or ``None`` when the kernel is not separable.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        return None
    if k.shape[0] == 1:
        return np.ones(1), k[0].copy()
    if k.shape[1] == 1:
        return k[:, 0].copy(), np.ones(1)
    u, s, vt = np.linalg.svd(k)
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


def next_fast_len(n: int) -> int:
    """Smallest 5-smooth integer (2**a * 3**b * 5**c) not less than ``n``."""
    if n <= 6:
        return max(n, 1)
    best = 2 ** math.ceil(math.log2(n))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power of two that takes p35 to at least n.
            quotient = -(-n // p35)
            p2 = 1 << max(quotient - 1, 0).bit_length()
            candidate = p2 * p35
            if candidate < best:
                best = candidate
            if candidate == n:
                return n
            p35 *= 3
        p5 *= 5
    return best


def _as_float(array) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    if np.issubdtype(a.dtype, np.complexfloating):
        msg = "convolve() takes real arrays, not complex ones"
        raise UsageError(msg)
    return a.astype(np.float64)


def _check_kernel(kernel, ndim: int) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 0 or k.size == 0:
        msg = f"kernel must be a non-empty array of 1 to {ndim} dimensions, got shape {k.shape}"
        raise UsageError(msg)
    if k.ndim > ndim:
        msg = f"kernel has {k.ndim} dimensions but the array only {ndim}"
        raise UsageError(msg)
    if not np.all(np.isfinite(k)):
        msg = "kernel contains NaN or infinite values"
        raise UsageError(msg)
    return k


def _pad(array: np.ndarray, kshape: tuple[int, ...], mode: str, cval: float) -> np.ndarray:
    """Pad the leading ``len(kshape)`` axes so a valid correlation keeps the size.

    The kernel's centre is at index ``k // 2`` of the (unflipped) kernel, as in
    scipy.ndimage.convolve, so an axis is padded by ``(k - 1) // 2`` before and
    ``k // 2`` after.
    """
    widths = [((k - 1) // 2, k // 2) for k in kshape]
    widths += [(0, 0)] * (array.ndim - len(kshape))
    if mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=cval)
    return np.pad(array, widths, mode=_NUMPY_PAD_MODE[mode])


def _convolve_1d(array: np.ndarray, weights: np.ndarray, axis: int, mode: str,
                 cval: float) -> np.ndarray:
    """Convolve along one axis by accumulating shifted slices."""
    n = weights.size
    length = array.shape[axis]
    padded = _pad(np.moveaxis(array, axis, 0), (n,), mode, cval)
    flipped = weights[::-1].astype(array.dtype)
    out = np.multiply(padded[0:length], flipped[0])
    tmp = np.empty_like(out)
    for m in range(1, n):
        if flipped[m] == 0:
            continue
        np.multiply(padded[m:m + length], flipped[m], out=tmp)
        out += tmp
    return np.moveaxis(out, 0, axis)


def _convolve_separable(array, factors, mode, cval):
    out = array
    scale = 1.0
    for axis, w in enumerate(factors):
        # In constant mode the padding outside the image must be what the full
        # N-D convolution sees there: cval filtered by the earlier factors.
        out = _convolve_1d(out, w, axis, mode, cval * scale)
        scale *= float(np.sum(w))
    return out


def _convolve_direct_nd(array, kernel, mode, cval):
    padded = _pad(array, kernel.shape, mode, cval)
    flipped = kernel[tuple(slice(None, None, -1) for _ in range(kernel.ndim))]
    flipped = flipped.astype(array.dtype)
    shape = array.shape[:kernel.ndim]
    out = np.zeros_like(array)
    tmp = np.empty_like(array)
    for index in np.ndindex(*kernel.shape):
        w = flipped[index]
        if w == 0:
            continue
        window = tuple(slice(i, i + s) for i, s in zip(index, shape, strict=True))
        np.multiply(padded[window], w, out=tmp)
        out += tmp
    return out


def _convolve_fft(array, kernel, mode, cval):
    nd = kernel.ndim
    axes = tuple(range(nd))
    padded = _pad(array, kernel.shape, mode, cval)
    fshape = [next_fast_len(padded.shape[i]) for i in axes]
    ftype = array.dtype
    k = kernel.astype(ftype)
    spec = np.fft.rfftn(padded, s=fshape, axes=axes)
    kspec = np.fft.rfftn(k, s=fshape, axes=axes)
    kspec = kspec.reshape(kspec.shape + (1,) * (array.ndim - nd))
    spec *= kspec
    full = np.fft.irfftn(spec, s=fshape, axes=axes)
    window = tuple(slice(kernel.shape[i] - 1, kernel.shape[i] - 1 + array.shape[i]) for i in axes)
    return np.ascontiguousarray(full[window], dtype=ftype)


def _direct_cost(image_shape, kernel_shape, separable: bool) -> float:
    samples = math.prod(image_shape)
    taps = sum(kernel_shape) if separable else math.prod(kernel_shape)
    return _DIRECT_COST * samples * taps


def _fft_cost(image_shape, kernel_shape) -> float:
    nd = len(kernel_shape)
    fshape = [next_fast_len(image_shape[i] + kernel_shape[i] - 1) for i in range(nd)]
    n = math.prod(fshape)
    channels = math.prod(image_shape[nd:])
    return _FFT_COST * n * math.log2(max(n, 2)) * (channels + 0.5) + _FFT_OVERHEAD


def choose_method(shape, kernel) -> str:
    """Pick ``"direct"`` or ``"fft"`` for convolving an array of ``shape`` with ``kernel``.

    The choice compares an estimate of each method's running time: the direct
    method costs one multiply-add per tap and sample (taps of the 1-D factors
    for a separable kernel), the FFT method ``N log2 N`` per transformed channel
    for the padded transform size ``N``. The constants were measured on the
    development machine; see ``benchmarks/calibrate.py``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array to filter, ``(H, W[, C])``.
    kernel : ndarray
        The kernel (1-D or 2-D for images).

    Returns
    -------
    str
        ``"direct"`` or ``"fft"``.
    """
    k = np.asarray(kernel, dtype=np.float64)
    separable = k.ndim == 1 or separable_factors(k) is not None
    direct = _direct_cost(shape, k.shape, separable)
    fft = _fft_cost(shape, k.shape)
    return "fft" if fft < direct else "direct"


def convolve(array, kernel, *, mode: str = "reflect", cval: float = 0.0,
             method: str = "auto") -> np.ndarray:
    """Convolve ``array`` with ``kernel`` over its leading axes.

    This is the mathematical convolution (the kernel is flipped), with the same
    output as ``scipy.ndimage.convolve`` for a kernel padded with ones along the
    channel axes.

    Parameters
    ----------
    array : array_like, shape (H, W[, C]) or (N,)
        Data to filter. float32 and float64 keep their type; other types are
        converted to float64.
    kernel : array_like
        1-D or N-D weights, with at most ``array.ndim`` dimensions. A kernel of
        ``k`` dimensions filters the first ``k`` axes; the remaining axes
        (colour channels) are filtered independently.
    mode : {"reflect", "mirror", "nearest", "wrap", "constant"}
        How the array is extended beyond its edges (see the module docstring).
        ``"edge"`` is accepted for ``"nearest"``.
    cval : float
        The value outside the array for ``mode="constant"``.
    method : {"auto", "direct", "fft"}
        ``"auto"`` picks by :func:`choose_method`.

    Returns
    -------
    ndarray
        Same shape as ``array``; float32 for float32 input, float64 otherwise.

    Notes
    -----
    For an even kernel size ``k`` the origin is at index ``k // 2`` of the
    kernel, as in scipy.ndimage.convolve: ``[1, 1]`` adds each sample to the
    one after it.

    Examples
    --------
    >>> import numpy as np
    >>> convolve(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 1.0]), mode="constant")
    array([3., 5., 7., 9., 5.])
    """
    a = _as_float(array)
    k = _check_kernel(kernel, a.ndim)
    mode = normalize_mode(mode)
    method = normalize_method(method)
    cval = float(cval)
    if not math.isfinite(cval):
        msg = f"cval must be a finite number, got {cval}"
        raise UsageError(msg)
    if a.size == 0:
        return a.copy()
    if method == "auto":
        method = choose_method(a.shape, k)
    if method == "fft":
        return _convolve_fft(a, k, mode, cval)
    if k.ndim == 1:
        return _convolve_1d(a, k, 0, mode, cval)
    if k.ndim == 2:
        factors = separable_factors(k)
        if factors is not None:
            return _convolve_separable(a, factors, mode, cval)
    return _convolve_direct_nd(a, k, mode, cval)
