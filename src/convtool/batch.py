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


@dataclass(frozen=True)
class FilterJob:
    """One filter, ready to run on any number of images.

    Attributes
    ----------
    kernel : Kernel
    mode, cval, method :
        As :func:`convtool.engine.convolve`.
    """

    kernel: Kernel
    mode: str = "reflect"
    cval: float = 0.0
    method: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "mode", engine.normalize_mode(self.mode))
        object.__setattr__(self, "method", engine.normalize_method(self.method))

    def method_for(self, shape) -> str:
        """The method that will run for pixels of ``shape``."""
        if self.method != "auto":
            return self.method
        return engine.choose_method(shape, self.kernel.array)


def apply_job(job: FilterJob, image: imaging.Image) -> imaging.Image:
    """Filter an image's pixels; returns a new :class:`~convtool.imaging.Image`."""
    method = job.method_for(image.pixels.shape)
    pixels = engine.convolve(image.pixels, job.kernel.array, mode=job.mode, cval=job.cval,
                             method=method)
    return imaging.Image(pixels=pixels.astype(np.float32, copy=False), mode=image.mode,
                         info=image.info, format=image.format)


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` did: the files, the image shape, the method, the time."""

    source: str
    target: str
    shape: tuple[int, ...]
    method: str
    seconds: float


def _check_not_input(source: str, target: str) -> None:
    if source == "-" or target == "-":  # standard input/output are never the same file
        return
    same = os.path.realpath(source) == os.path.realpath(target)
    if not same and os.path.exists(source) and os.path.exists(target):
        same = os.path.samefile(source, target)  # hard links, bind mounts
    if same:
        msg = (f"{target}: the output is the input file; convtool never overwrites "
               "its input (choose another output name)")
        raise UsageError(msg)


def process_file(job: FilterJob, source, target, *, format: str | None = None) -> FileResult:
    """Read ``source``, filter it with ``job``, write ``target`` atomically."""
    start = time.perf_counter()
    source, target = os.fspath(source), os.fspath(target)
    if not source or not target:
        msg = "input and output paths must not be empty"
        raise UsageError(msg)
    imaging.output_format(target, format)  # a bad extension fails before any work
    _check_not_input(source, target)
    imaging.check_target(target)
    image = imaging.read_image(source)
    method = job.method_for(image.pixels.shape)
    imaging.write_image(apply_job(job, image), target, format=format)
    return FileResult(source, target, image.pixels.shape, method, time.perf_counter() - start)
