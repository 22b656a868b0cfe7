"""Running a filter over files: the per-file pipeline used by every command.

A :class:`FilterJob` says what to do to an image; :func:`apply_job` does it to
pixels, :func:`process_file` reads, filters and writes one file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from convtool import engine, imaging
from convtool.errors import UsageError
from convtool.kernels import Kernel

# Channel letters for --channels, by image mode. Greyscale images answer to
# r, g and b as well as l, so "rgb" means "the colour, not the alpha" for both.
_CHANNEL_INDEX = {
    "L": {"l": 0, "r": 0, "g": 0, "b": 0},
    "LA": {"l": 0, "r": 0, "g": 0, "b": 0, "a": 1},
    "RGB": {"r": 0, "g": 1, "b": 2},
    "RGBA": {"r": 0, "g": 1, "b": 2, "a": 3},
}
CHANNEL_LETTERS = "rgbal"


def parse_channels(channels: str | None) -> str | None:
    """Canonical form of a ``--channels`` value: letters from r, g, b, a, l, or None for all.

    ``"rgb"``, ``"r,g,b"`` and ``"R G B"`` are the same; ``"all"`` is None.
    """
    if channels is None:
        return None
    text = str(channels).strip().lower()
    if text in ("", "all"):
        return None
    letters = "".join(text.replace(",", " ").split())
    bad = [c for c in letters if c not in CHANNEL_LETTERS]
    if bad:
        msg = (f"--channels {channels!r}: unknown channel {bad[0]!r}; use letters from "
               "r, g, b, a (colour) or l, a (greyscale), e.g. rgb, a or r,g")
        raise UsageError(msg)
    return "".join(dict.fromkeys(letters))


def channel_indices(mode: str, channels: str | None, size: int) -> list[int]:
    """Indices of the pixel channels ``channels`` names in an image of ``mode``."""
    if channels is None:
        return list(range(size))
    names = _CHANNEL_INDEX.get(mode)
    if names is None:
        msg = f"--channels: images of mode {mode} have no named channels; leave it out"
        raise UsageError(msg)
    missing = [c for c in channels if c not in names]
    if missing:
        msg = (f"--channels {channels!r}: an image of mode {mode} has no {missing[0]!r} channel "
               f"(it has {', '.join(sorted(set(names)))})")
        raise UsageError(msg)
    return sorted({names[c] for c in channels})


@dataclass(frozen=True)
class FilterJob:
    """One filter, ready to run on any number of images.

    Attributes
    ----------
    kernel : Kernel
    mode, cval, method :
        As :func:`convtool.engine.convolve`.
    kernel_y : Kernel or None
        When set, ``kernel`` and ``kernel_y`` are the x and y parts of a
        gradient operator and the response is the magnitude
        ``hypot(image * kernel, image * kernel_y)`` (``convtool edges``).
    absolute : bool
        Take the absolute value of the response (edge kernels).
    stretch : bool
        Divide the response by its largest absolute value over the whole image
        (all filtered channels), so the strongest response becomes 1.
    bias : float
        Added to every sample after filtering (and after ``absolute``), on the
        0..1 scale, together with ``kernel.offset``.
    threshold : float
        Leave a sample unchanged where the filter would change it by less than
        this (unsharp masking's threshold), on the 0..1 scale; 0 changes all.
    channels : str or None
        Letters of the channels to filter (``"rgb"``, ``"a"``, ``"rg"``; l is
        the grey channel); the others are copied unchanged. None filters all.
    """

    kernel: Kernel
    mode: str = "reflect"
    cval: float = 0.0
    method: str = "auto"
    # Pixel-level options and the gradient hook (issue 4).
    kernel_y: Kernel | None = None
    absolute: bool = False
    stretch: bool = False
    bias: float = 0.0
    threshold: float = 0.0
    channels: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "mode", engine.normalize_mode(self.mode))
        object.__setattr__(self, "method", engine.normalize_method(self.method))
        object.__setattr__(self, "channels", parse_channels(self.channels))
        for name in ("bias", "threshold"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or (name == "threshold" and value < 0):
                least = " >= 0" if name == "threshold" else ""
                msg = f"--{name} must be a finite number{least}, got {getattr(self, name)!r}"
                raise UsageError(msg)
            object.__setattr__(self, name, value)

    def method_for(self, shape) -> str:
        """The method that will run for pixels of ``shape``."""
        if self.method != "auto":
            return self.method
        return engine.choose_method(shape, self.kernel.array)


def _respond(job: FilterJob, pixels: np.ndarray, method: str) -> np.ndarray:
    """The filter's response: one convolution, or a gradient magnitude, then the post-ops."""
    out = engine.convolve(pixels, job.kernel.array, mode=job.mode, cval=job.cval, method=method)
    if job.kernel_y is not None:
        # Gradient pairs are transposes of each other: the same method suits both.
        other = engine.convolve(pixels, job.kernel_y.array, mode=job.mode, cval=job.cval,
                                method=method)
        out = np.hypot(out, other)
    if job.absolute:
        out = np.abs(out)
    if job.stretch:
        peak = float(np.abs(out).max(initial=0.0))
        if peak > 0:
            out = out / np.asarray(peak, dtype=out.dtype)
    if job.threshold > 0:
        out = np.where(np.abs(out - pixels) < job.threshold, pixels, out)
    bias = job.bias + job.kernel.offset
    if bias:
        out = out + np.asarray(bias, dtype=out.dtype)
    return out


def apply_job(job: FilterJob, image: imaging.Image) -> imaging.Image:
    """Filter an image's pixels; returns a new :class:`~convtool.imaging.Image`."""
    method = job.method_for(image.pixels.shape)
    pixels = image.pixels
    chosen = channel_indices(image.mode, job.channels, pixels.shape[-1])
    if len(chosen) < pixels.shape[-1]:
        out = pixels.copy()
        out[..., chosen] = _respond(job, pixels[..., chosen], method)
    else:
        out = _respond(job, pixels, method)
    return imaging.Image(pixels=out.astype(np.float32, copy=False), mode=image.mode,
                         info=image.info, format=image.format)


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` did: the files, the image shape, the method, the time."""

    source: str
    target: str
    shape: tuple[int, ...]
    method: str
    seconds: float


def process_file(job: FilterJob, source, target, *, format: str | None = None) -> FileResult:
    """Read ``source``, filter it with ``job``, write ``target`` atomically."""
    start = time.perf_counter()
    source, target = os.fspath(source), os.fspath(target)
    if not source or not target:
        msg = "input and output paths must not be empty"
        raise UsageError(msg)
    imaging.output_format(target, format)  # a bad extension fails before any work
    image = imaging.read_image(source)
    method = job.method_for(image.pixels.shape)
    imaging.write_image(apply_job(job, image), target, format=format)
    return FileResult(source, target, image.pixels.shape, method, time.perf_counter() - start)
