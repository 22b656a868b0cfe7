"""Pixel operations around a convolution: alpha (premultiplied or not) and linear light."""

from __future__ import annotations

import numpy as np

from convtool.errors import UsageError
from convtool.imaging.choices import ALPHA_MODES
from convtool.imaging.model import GAMMA_MODES, Image

# Large images are transformed a band of rows at a time, to bound temporary memory.
ROWS_PER_CHUNK = 128


def row_chunks(n: int):
    """Slices of at most :data:`ROWS_PER_CHUNK` rows covering ``range(n)``."""
    for start in range(0, n, ROWS_PER_CHUNK):
        yield slice(start, min(start + ROWS_PER_CHUNK, n))


def _srgb_to_linear_inplace(a: np.ndarray) -> None:
    for rows in row_chunks(a.shape[0]):
        x = a[rows]
        curve = np.power((np.maximum(x, 0.04045) + 0.055) / 1.055, 2.4, dtype=x.dtype)
        x[...] = np.where(x <= 0.04045, x / 12.92, curve)


def _linear_to_srgb_inplace(a: np.ndarray) -> None:
    for rows in row_chunks(a.shape[0]):
        x = a[rows]
        curve = 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4, dtype=x.dtype) - 0.055
        x[...] = np.where(x <= 0.0031308, x * 12.92, curve)


def srgb_to_linear(values) -> np.ndarray:
    """Decode sRGB values (0..1) to linear light (IEC 61966-2-1), as a new array.

    Examples
    --------
    >>> round(float(srgb_to_linear(0.5)), 4)
    0.214
    """
    a = np.array(values, dtype=np.result_type(values, np.float32), ndmin=1)
    _srgb_to_linear_inplace(a)
    return a.reshape(np.shape(values))


def linear_to_srgb(values) -> np.ndarray:
    """Encode linear light to sRGB values, the inverse of :func:`srgb_to_linear`."""
    a = np.array(values, dtype=np.result_type(values, np.float32), ndmin=1)
    _linear_to_srgb_inplace(a)
    return a.reshape(np.shape(values))


def premultiply(pixels) -> np.ndarray:
    """Colour channels times alpha (the last channel), as a new array of shape (H, W, C).

    Examples
    --------
    >>> import numpy as np
    >>> premultiply(np.array([[[1.0, 0.5]]]))
    array([[[0.5, 0.5]]])
    """
    out = np.array(pixels)
    out[..., :-1] *= out[..., -1:]
    return out


def _unpremultiply_inplace(a: np.ndarray) -> None:
    for rows in row_chunks(a.shape[0]):
        colour, alpha = a[rows, ..., :-1], a[rows, ..., -1:]
        covered = alpha > 0
        # Where nothing is covered the colour is undefined: write 0 (transparent black).
        np.divide(colour, np.where(covered, alpha, 1), out=colour)
        colour *= covered


def unpremultiply(pixels) -> np.ndarray:
    """Divide colour channels by alpha (the last channel); colour is 0 where alpha <= 0.

    Examples
    --------
    >>> import numpy as np
    >>> unpremultiply(np.array([[[0.25, 0.5], [0.3, 0.0]]]))
    array([[[0.5, 0.5],
            [0. , 0. ]]])
    """
    out = np.array(pixels)
    _unpremultiply_inplace(out)
    return out


def normalize_alpha(alpha: str) -> str:
    """Return the canonical alpha mode, or raise :class:`UsageError`.

    Examples
    --------
    >>> normalize_alpha(" Separate ")
    'separate'
    """
    name = str(alpha).strip().lower()
    if name not in ALPHA_MODES:
        msg = f"unknown alpha mode {alpha!r}: choose one of {', '.join(ALPHA_MODES)}"
        raise UsageError(msg)
    return name


def filter_space(image: Image, *, alpha: str = "premultiply", linear: bool = False) -> np.ndarray:
    """The array to convolve for ``image``: linear light and premultiplied as asked.

    Returns ``image.pixels`` itself when there is nothing to do; otherwise a
    new array. With ``alpha="ignore"`` only the colour channels are returned.
    :func:`image_space` undoes it after filtering.
    """
    alpha = normalize_alpha(alpha)
    if linear and image.mode not in GAMMA_MODES:
        msg = (f"linear applies to sRGB-encoded greyscale and RGB images, not mode {image.mode}"
               " (float and 32-bit values are taken as linear already; CMYK is ink, not light)")
        raise UsageError(msg, params=("linear",))
    blend = image.has_alpha and alpha != "separate"
    if not (linear or blend):
        return image.pixels
    colours = image.pixels.shape[2] - 1 if image.has_alpha else image.pixels.shape[2]
    if image.has_alpha and alpha == "ignore":
        work = np.array(image.pixels[..., :colours])
    else:
        work = image.pixels.copy()
    if linear:
        _srgb_to_linear_inplace(work[..., :colours])
    if image.has_alpha and alpha == "premultiply":
        for rows in row_chunks(work.shape[0]):
            work[rows, ..., :-1] *= work[rows, ..., -1:]
    return work


def image_space(filtered: np.ndarray, image: Image, *, alpha: str = "premultiply",
                linear: bool = False) -> np.ndarray:
    """Undo :func:`filter_space` on the filtered array (in place where it can)."""
    alpha = normalize_alpha(alpha)
    out = filtered
    if image.has_alpha and alpha == "ignore":
        out = np.empty(image.pixels.shape, dtype=filtered.dtype)
        out[..., :-1] = filtered
        out[..., -1] = image.pixels[..., -1]
    elif image.has_alpha and alpha == "premultiply":
        _unpremultiply_inplace(out)
    if linear:
        colours = out.shape[2] - 1 if image.has_alpha else out.shape[2]
        _linear_to_srgb_inplace(out[..., :colours])
    return out

