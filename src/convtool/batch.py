"""Running a filter over files: the per-file pipeline used by every command.

A :class:`FilterJob` says what to do to an image; :func:`apply_job` does it to
pixels, :func:`process_file` reads, filters and writes one file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from convtool import engine, imaging
from convtool.errors import UsageError
from convtool.kernels import Kernel


@dataclass(frozen=True)
class FilterJob:
    """One filter, ready to run on any number of images.

    Attributes
    ----------
    kernel : Kernel
    mode, cval, method :
        As :func:`convtool.engine.convolve`.
    alpha : {"premultiply", "separate", "ignore"}
        How an alpha channel takes part (:data:`convtool.imaging.ALPHA_MODES`).
    linear : bool
        Convolve in linear light (sRGB decoded before, encoded after).
    """

    kernel: Kernel
    mode: str = "reflect"
    cval: float = 0.0
    method: str = "auto"
    alpha: str = "premultiply"
    linear: bool = False

    def __post_init__(self):
        object.__setattr__(self, "mode", engine.normalize_mode(self.mode))
        object.__setattr__(self, "method", engine.normalize_method(self.method))
        object.__setattr__(self, "alpha", imaging.normalize_alpha(self.alpha))

    def method_for(self, shape) -> str:
        """The method that will run for pixels of ``shape``."""
        if self.method != "auto":
            return self.method
        return engine.choose_method(shape, self.kernel.array)


def apply_job(job: FilterJob, image: imaging.Image) -> imaging.Image:
    """Filter an image's pixels (every frame); returns a new :class:`~convtool.imaging.Image`."""
    if image.extra_frames:
        first, *rest = (apply_job(job, frame) for frame in image.frames)
        return replace(first, extra_frames=tuple(rest))
    work = imaging.filter_space(image, alpha=job.alpha, linear=job.linear)
    method = job.method_for(work.shape)
    pixels = engine.convolve(work, job.kernel.array, mode=job.mode, cval=job.cval,
                             method=method)
    pixels = imaging.image_space(pixels, image, alpha=job.alpha, linear=job.linear)
    return replace(image, pixels=pixels.astype(image.pixels.dtype, copy=False))


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` did: the files, the image shape, the method, the time."""

    source: str
    target: str
    shape: tuple[int, ...]
    method: str
    seconds: float


def process_file(job: FilterJob, source, target, *, format: str | None = None,
                 save: imaging.SaveOptions | None = None,
                 max_pixels: int | None = None) -> FileResult:
    """Read ``source``, filter it with ``job``, write ``target`` atomically.

    ``"-"`` as ``source`` reads stdin; as ``target`` it writes stdout (once the
    whole image is encoded). ``save`` says how to encode (``format`` overrides
    its format); ``max_pixels`` is the decompression-bomb limit of
    :func:`convtool.imaging.read_image`.
    """
    start = time.perf_counter()
    source, target = os.fspath(source), os.fspath(target)
    if not source or not target:
        msg = "input and output paths must not be empty"
        raise UsageError(msg)
    save = save or imaging.SaveOptions()
    if format:
        save = replace(save, format=format)
    imaging.check_output(target, save)  # a bad extension or option fails before any work
    image = imaging.read_image(source, max_pixels=max_pixels)
    shape, method = image.pixels.shape, job.method_for(image.pixels.shape)
    result = apply_job(job, image)
    del image  # the input's pixels are not needed while encoding
    imaging.write_image(result, target, save)
    return FileResult(source, target, shape, method, time.perf_counter() - start)
