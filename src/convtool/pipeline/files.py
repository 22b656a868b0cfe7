"""One file through a filter: read, :func:`~convtool.pipeline.apply_job`, write atomically."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import numpy as np

from convtool import imaging
from convtool.errors import UsageError
from convtool.pipeline import bands as _bands
from convtool.pipeline import job as _job


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: the files, the image shape, the method, the time.

    Small and picklable: batch executors send it back from their workers.

    Attributes
    ----------
    source, target : str
        The input and the output path (``target`` is ``""`` when there is none,
        e.g. a skipped non-image file).
    shape : tuple of int
        ``(H, W, C)`` of the image, ``()`` when it was not read.
    method : str
        The convolution method that ran, ``""`` when none did.
    seconds : float
        Time spent on this file.
    status : {"done", "skipped", "failed", "interrupted", "planned"}
        ``"interrupted"``: the run stopped before this file was finished;
        ``"planned"``: a dry run's entry.
    error : str or None
        Why the file failed or was skipped.
    error_params : tuple of str
        The library parameters ``error`` names (:attr:`ConvtoolError.params`).
    traceback : str or None
        The traceback of an unexpected exception (a bug), formatted where it
        happened, possibly in a worker process.
    """

    source: str
    target: str
    shape: tuple[int, ...]
    method: str
    seconds: float
    status: str = "done"
    error: str | None = None
    error_params: tuple[str, ...] = ()
    traceback: str | None = None


def check_not_input(source: str, target: str) -> None:
    """Refuse ``target`` when it is the ``source`` file itself (by path, link or mount)."""
    if source == "-" or target == "-":  # standard input/output are never the same file
        return
    same = os.path.realpath(source) == os.path.realpath(target)
    if not same and os.path.exists(source) and os.path.exists(target):
        same = os.path.samefile(source, target)  # hard links, bind mounts
    if same:
        msg = (f"{target}: the output is the input file; convtool does not replace its "
               "input unless asked (choose another output name, or allow it with in_place)")
        raise UsageError(msg, params=("in_place",))


def check_ours(target: str) -> None:
    """Refuse to replace an existing file that convtool did not write."""
    if (target != imaging.STDIO and os.path.isfile(target)
            and not imaging.written_by_convtool(target)):
        msg = (f"{target}: exists and convtool did not write it; add overwrite to replace it "
               "(or name another output)")
        raise UsageError(msg, params=("overwrite",))


def process_file(job: _job.FilterJob, source, target, *, format: str | None = None,
                 save: imaging.SaveOptions | None = None,
                 max_pixels: int | None = None, in_place: bool = False,
                 overwrite: bool = True) -> FileResult:
    """Read ``source``, filter it with ``job``, write ``target`` atomically.

    ``"-"`` as ``source`` reads stdin; as ``target`` it writes stdout (once the
    whole image is encoded). ``save`` says how to encode (``format`` overrides
    its format); ``max_pixels`` is the decompression-bomb limit of
    :func:`convtool.imaging.read_image`. ``target`` may be the ``source`` file
    itself only with ``in_place``: it is then replaced once the new image is
    complete, atomically as any output. With ``overwrite=False`` an existing
    ``target`` is replaced only if convtool wrote it
    (:func:`convtool.imaging.written_by_convtool`), as the command line's
    INPUT OUTPUT form does unless ``--overwrite`` is given.
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
    if not in_place:
        check_not_input(source, target)
    if not overwrite:
        check_ours(target)
    image = imaging.read_image(source, max_pixels=max_pixels, integers=True)
    dtype = np.float32 if image.pixels.dtype == np.uint8 else image.pixels.dtype
    shape, method = image.pixels.shape, job.method_for(image.pixels.shape, dtype)
    if _bands.can_band(job, image):  # 8-bit: a band at a time, a fraction of the memory
        result = _bands.apply_job_banded(job, image, in_place=True)  # the input is ours
    else:
        result = _job.apply_job(job, _bands.to_float(image))
    del image  # the input's pixels are not needed while encoding
    imaging.write_image(result, target, save)
    return FileResult(source, target, shape, method, time.perf_counter() - start)
