"""Running a filter over files: the per-file pipeline and batch runs over folders.

A :class:`FilterJob` says what to do to an image; :func:`apply_job` does it to
pixels, :func:`process_file` reads, filters and writes one file.

For many files: :func:`plan_batch` expands files, folders and patterns into
``(input, output)`` pairs and refuses output clashes before any work;
:func:`run_batch` filters them in worker processes, reporting each
:class:`FileResult` through a callback, and returns a :class:`BatchReport`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from convtool import engine, imaging
from convtool.errors import ConvtoolError, ImageReadError, UsageError
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
    names = _CHANNEL_INDEX.get(mode.split(";")[0])  # RGB;16 and RGB;F name channels as RGB
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
    alpha : {"premultiply", "separate", "ignore"}
        How an alpha channel takes part (:data:`convtool.imaging.ALPHA_MODES`).
    linear : bool
        Convolve in linear light (sRGB decoded before, encoded after).
    threads : int or None
        Threads the engine may use for one image; None: one per core.
        :func:`run_batch` divides the cores among its worker processes.
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
    # Alpha and colour space (issue 3).
    alpha: str = "premultiply"
    linear: bool = False
    # Engine threads per image (None: one per core); batch runs share the cores out.
    threads: int | None = None

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
        object.__setattr__(self, "alpha", imaging.normalize_alpha(self.alpha))

    def method_for(self, shape) -> str:
        """The method that will run for pixels of ``shape``."""
        if self.method != "auto":
            return self.method
        return engine.choose_method(shape, self.kernel.array)


def _respond(job: FilterJob, pixels: np.ndarray, method: str) -> np.ndarray:
    """The filter's response: one convolution, or a gradient magnitude, then the post-ops."""
    out = engine.convolve(pixels, job.kernel.array, mode=job.mode, cval=job.cval, method=method,
                          threads=job.threads)
    if job.kernel_y is not None:
        # Gradient pairs are transposes of each other: the same method suits both.
        other = engine.convolve(pixels, job.kernel_y.array, mode=job.mode, cval=job.cval,
                                method=method, threads=job.threads)
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


def _check_cval(job: FilterJob, image: imaging.Image) -> None:
    # Integer images are filtered on the 0..1 scale, so a cval outside it is
    # almost always a mistake (255 meant as white): refuse it rather than guess.
    if job.mode == "constant" and image.unit_scale and not 0.0 <= job.cval <= 1.0:
        msg = (f"--cval {job.cval:g} is not between 0 and 1: for {image.mode} images cval is on "
               "the 0..1 scale (0 is black, 1 is white, whatever the bit depth)")
        raise UsageError(msg)


def apply_job(job: FilterJob, image: imaging.Image) -> imaging.Image:
    """Filter an image's pixels (every frame); returns a new :class:`~convtool.imaging.Image`.

    With ``channels`` naming a subset, those channels are filtered as they are
    (alpha is not premultiplied into them) and the others are copied.
    """
    if image.extra_frames:
        first, *rest = (apply_job(job, frame) for frame in image.frames)
        return replace(first, extra_frames=tuple(rest))
    _check_cval(job, image)
    chosen = channel_indices(image.mode, job.channels, image.pixels.shape[-1])
    subset = len(chosen) < image.pixels.shape[-1]
    alpha = "separate" if subset else job.alpha
    work = imaging.filter_space(image, alpha=alpha, linear=job.linear)
    method = job.method_for(work.shape)
    if subset:
        out = work.copy()
        out[..., chosen] = _respond(job, work[..., chosen], method)
    else:
        out = _respond(job, work, method)
    pixels = imaging.image_space(out, image, alpha=alpha, linear=job.linear)
    return replace(image, pixels=pixels.astype(image.pixels.dtype, copy=False))


@dataclass(frozen=True)
class FileResult:
    """What happened to one file: the files, the image shape, the method, the time.

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
    """

    source: str
    target: str
    shape: tuple[int, ...]
    method: str
    seconds: float
    status: str = "done"
    error: str | None = None


def _check_not_input(source: str, target: str) -> None:
    if source == "-" or target == "-":  # standard input/output are never the same file
        return
    same = os.path.realpath(source) == os.path.realpath(target)
    if not same and os.path.exists(source) and os.path.exists(target):
        same = os.path.samefile(source, target)  # hard links, bind mounts
    if same:
        msg = (f"{target}: the output is the input file; convtool does not replace its "
               "input unless asked (choose another output name, or add --in-place)")
        raise UsageError(msg)


def process_file(job: FilterJob, source, target, *, format: str | None = None,
                 save: imaging.SaveOptions | None = None,
                 max_pixels: int | None = None, in_place: bool = False) -> FileResult:
    """Read ``source``, filter it with ``job``, write ``target`` atomically.

    ``"-"`` as ``source`` reads stdin; as ``target`` it writes stdout (once the
    whole image is encoded). ``save`` says how to encode (``format`` overrides
    its format); ``max_pixels`` is the decompression-bomb limit of
    :func:`convtool.imaging.read_image`. ``target`` may be the ``source`` file
    itself only with ``in_place``: it is then replaced once the new image is
    complete, atomically as any output.
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
        _check_not_input(source, target)
    image = imaging.read_image(source, max_pixels=max_pixels)
    shape, method = image.pixels.shape, job.method_for(image.pixels.shape)
    result = apply_job(job, image)
    del image  # the input's pixels are not needed while encoding
    imaging.write_image(result, target, save)
    return FileResult(source, target, shape, method, time.perf_counter() - start)


# --------------------------------------------------------------------------
# Batch runs: expanding inputs, naming outputs, running files in workers.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFile:
    """A file found by :func:`expand_inputs`.

    Attributes
    ----------
    path : str
        Where to read it.
    name : str
        Its path relative to the folder it was found in (just the file name for
        files named directly or by a pattern); the output keeps this name.
    skip : str or None
        Why it is skipped (a file in a folder whose extension is not an image's).
    """

    path: str
    name: str
    skip: str | None = None


@dataclass(frozen=True)
class BatchPlan:
    """Every input of a batch run paired with its output, before any work.

    Attributes
    ----------
    items : list of (source, target)
        The files to filter, in a stable (sorted) order.
    skipped : list of FileResult
        Files left out with a reason: not images, or (``skip_existing``) already done.
    """

    items: list[tuple[str, str]]
    skipped: list[FileResult]


@dataclass
class BatchReport:
    """The outcome of :func:`run_batch`: one :class:`FileResult` per file.

    Attributes
    ----------
    results : list of FileResult
        Skipped files first, then the planned files in plan order.
    seconds : float
        Wall time of the run.
    interrupted : bool
        The run was stopped (Ctrl-C); files not finished have status ``"interrupted"``.
    """

    results: list[FileResult]
    seconds: float
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]


def _has_magic(path: str) -> bool:
    return any(c in path for c in "*?[")


def _matches(name: str, patterns) -> bool:
    base = os.path.basename(name)
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in patterns)


def _walk(folder: str, recursive: bool, avoid: set[str], prefix: str = "") -> Iterator[tuple]:
    """Yield (path, name) for files in ``folder``, sorted, not entering ``avoid``."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        msg = f"{folder}: cannot list the folder ({e.strerror})"
        raise ImageReadError(msg) from None
    for entry in entries:
        name = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            if recursive and os.path.realpath(entry.path) not in avoid:
                yield from _walk(entry.path, recursive, avoid, name + "/")
        elif entry.is_file():
            yield entry.path, name


def expand_inputs(paths, *, recursive: bool = False, include=(), exclude=(),
                  avoid=()) -> Iterator[InputFile]:
    """Turn files, folders and glob patterns into the input files, lazily.

    Parameters
    ----------
    paths : iterable of str or path
        Files are taken as they are; folders give the files in them (and in
        their sub-folders when ``recursive``); patterns (``*``, ``?``, ``[``)
        are expanded with :mod:`glob` (``**`` crosses folders when ``recursive``).
    include, exclude : sequence of str
        Glob patterns matched against a file's name and its relative path: keep
        only files matching one of ``include`` (when given), drop those matching
        ``exclude``.
    avoid : iterable of str
        Folders not to enter, such as the output folder inside an input folder.

    Yields
    ------
    InputFile
        Files found in folders or by patterns whose extension is not an image
        format Pillow reads come with ``skip`` set; files named directly are
        always tried, so a wrong one is reported as a failure.

    Raises
    ------
    ImageReadError
        A path is neither a file nor a folder, or a pattern matches nothing.
    """
    image_exts = imaging.readable_extensions()
    avoid = {os.path.realpath(a) for a in avoid}

    def found(path, name, direct=False):
        if include and not _matches(name, include):
            return None
        if exclude and _matches(name, exclude):
            return None
        if os.path.basename(path).startswith(imaging.TEMP_PREFIX):
            return None  # a temporary file left by an interrupted write
        if not direct and os.path.splitext(path)[1].lower() not in image_exts:
            return InputFile(path, name, "not an image file (by its extension)")
        return InputFile(path, name)

    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            candidates = ((p, n, False) for p, n in _walk(path, recursive, avoid))
        elif os.path.lexists(path):
            candidates = iter([(path, os.path.basename(path), True)])
        elif _has_magic(path):
            matches = sorted(glob.iglob(path, recursive=recursive))
            if not matches:
                msg = f"{path}: the pattern matches no files"
                raise ImageReadError(msg)
            candidates = _expand_matches(matches, recursive, avoid)
        else:
            msg = f"{path}: no such file or folder"
            raise ImageReadError(msg)
        for p, n, direct in candidates:
            item = found(p, n, direct)
            if item is not None:
                yield item


def _expand_matches(matches, recursive, avoid):
    for match in matches:
        if os.path.isdir(match):
            for p, n in _walk(match, recursive, avoid):
                yield p, n, False
        else:
            yield match, os.path.basename(match), False


def output_name(name: str, *, suffix: str = "", format: str | None = None) -> str:
    """The output's relative name for an input's ``name``.

    >>> output_name("trip/beach.jpg", suffix="_blur", format="png")
    'trip/beach_blur.png'
    """
    stem, ext = os.path.splitext(name)
    if format:
        fmt = imaging.output_format(name, format)
        ext = imaging.extension_for(fmt)
    return stem + suffix + ext


def plan_batch(paths, out_dir, *, recursive: bool = False, include=(), exclude=(),
               suffix: str = "", format: str | None = None,
               skip_existing: bool = False) -> BatchPlan:
    """Pair every input with its output in ``out_dir``, refusing clashes before any work.

    Only names are listed here; no image is opened.

    Raises
    ------
    UsageError
        Two inputs would write the same output, or an output would replace an input.
    ImageReadError
        As :func:`expand_inputs`.
    """
    out_dir = os.fspath(out_dir)
    if not out_dir:
        msg = "--out-dir must not be empty"
        raise UsageError(msg)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        msg = f"--out-dir {out_dir}: exists and is not a folder"
        raise UsageError(msg)
    if format:
        imaging.output_format(out_dir, format)  # an unknown --format fails first
    seen_inputs: set[str] = set()
    owner: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    skipped: list[FileResult] = []
    inputs = expand_inputs(paths, recursive=recursive, include=include, exclude=exclude,
                           avoid=[out_dir])
    for found in inputs:
        real = os.path.realpath(found.path)
        if real in seen_inputs:
            continue  # the same file reached twice (a folder and a pattern): once is enough
        seen_inputs.add(real)
        if found.skip:
            skipped.append(FileResult(found.path, "", (), "", 0.0, "skipped", found.skip))
            continue
        target = os.path.join(out_dir, output_name(found.name, suffix=suffix, format=format))
        key = os.path.normcase(os.path.realpath(target))
        if key == real:
            msg = (f"{found.path}: the output would replace the input; "
                   "choose another --out-dir or a --suffix")
            raise UsageError(msg)
        if key in owner:
            msg = (f"{owner[key]} and {found.path} would both be written to {target}; "
                   "use --recursive to keep sub-folders, a --suffix, or separate runs")
            raise UsageError(msg)
        owner[key] = found.path
        items.append((found.path, target))
    for _, target in items:
        if os.path.realpath(target) in seen_inputs:
            msg = (f"{target}: would be written by this run and is also one of its inputs; "
                   "choose another --out-dir")
            raise UsageError(msg)
    if skip_existing:
        todo = []
        for source, target in items:
            if os.path.exists(target):
                skipped.append(FileResult(source, target, (), "", 0.0, "skipped",
                                          "the output already exists"))
            else:
                todo.append((source, target))
        items = todo
    return BatchPlan(items, skipped)


def _process_one(job: FilterJob, source: str, target: str, settings: dict) -> FileResult:
    """:func:`process_file`, with a failure turned into a ``"failed"`` result."""
    start = time.perf_counter()
    try:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        return process_file(job, source, target, **settings)
    except ConvtoolError as e:
        error = str(e)
    except MemoryError:
        error = f"{source}: out of memory: try a smaller image or kernel"
    except OSError as e:
        error = f"{target}: {e.strerror or e}"
    except Exception as e:  # a bug: report it with the file, keep going with the others
        error = f"{source}: internal error: {type(e).__name__}: {e}"
    return FileResult(source, target, (), "", time.perf_counter() - start, "failed", error)


def default_jobs() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_batch(job: FilterJob, items, *, jobs: int | None = None, format: str | None = None,
              save: imaging.SaveOptions | None = None, max_pixels: int | None = None,
              on_result=None, skipped=()) -> BatchReport:
    """Filter every ``(source, target)`` pair in ``items``, in parallel.

    Parameters
    ----------
    job : FilterJob
        Sent once to each worker process.
    items : sequence of (source, target)
        Usually :attr:`BatchPlan.items`. Output folders are created as needed.
    jobs : int, optional
        Worker processes (default: :func:`default_jobs`). With ``jobs=1`` files
        are filtered in this process.
    format : str, optional
        Output format for every file (default: from each target's extension).
    save : SaveOptions, optional
        How to encode every output (``format`` overrides its format).
    max_pixels : int, optional
        The decompression-bomb limit, as :func:`convtool.imaging.read_image`.
    on_result : callable, optional
        Called in this process with each :class:`FileResult` as it completes
        (in completion order), e.g. to draw progress.
    skipped : sequence of FileResult
        Results to put first in the report (:attr:`BatchPlan.skipped`).

    Returns
    -------
    BatchReport
        One result per file, in the order of ``items``. A failing file does not
        stop the others. Ctrl-C (KeyboardInterrupt) stops the run cleanly: the
        report has ``interrupted=True`` and the unfinished files.

    Notes
    -----
    At most ``jobs`` images are in memory at a time: each worker is handed one
    file when it is idle. A worker that dies (killed, out of memory) fails only
    the file it was working on; a new worker takes its place. Outputs are
    written atomically (a hidden ``.convtool-*.tmp`` renamed into place); on
    Ctrl-C the workers are stopped and remove their temporary files, and any
    such file that appeared in an output folder during the run and is still
    there at the end (a worker killed outright cannot clean up) is removed.
    Temporary files that were there before the run are left alone.
    """
    items = [(os.fspath(s), os.fspath(t)) for s, t in items]
    settings = {"format": format, "save": save, "max_pixels": max_pixels}
    if jobs is None:
        jobs = default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        msg = f"jobs must be a whole number >= 1, got {jobs!r}"
        raise UsageError(msg)
    start = time.perf_counter()
    results: list[FileResult | None] = [None] * len(items)
    folders = {os.path.dirname(os.path.abspath(t)) for _, t in items}
    temps_before = _temp_files(folders)

    def record(index: int, result: FileResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    interrupted = False
    try:
        if jobs == 1 or len(items) <= 1:
            for index, (source, target) in enumerate(items):
                record(index, _process_one(job, source, target, settings))
        else:
            workers = min(jobs, len(items))
            if job.threads is None:  # the cores are shared among the workers, not multiplied
                job = replace(job, threads=max(1, default_jobs() // workers))
            _run_pool(job, items, workers, settings, record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # write_image removes its temporary file on any error it sees; one can only
        # be left by a worker that died or was stopped, so sweep only then (a
        # concurrent run's temporary files are not touched by a clean run).
        if interrupted or any(r is None or r.status == "failed" for r in results):
            for stale in _temp_files(folders) - temps_before:
                with contextlib.suppress(OSError):
                    os.unlink(stale)
    final = [r if r is not None else
             FileResult(s, t, (), "", 0.0, "interrupted", "not done: the run was interrupted")
             for r, (s, t) in zip(results, items, strict=True)]
    return BatchReport(list(skipped) + final, time.perf_counter() - start, interrupted)


def _temp_files(folders) -> set[str]:
    found = set()
    for folder in folders:
        found.update(glob.glob(os.path.join(glob.escape(folder), imaging.TEMP_PATTERN)))
    return found


def stale_temp_files(folder) -> list[str]:
    """``.convtool-*.tmp`` files in ``folder``: left by a run that was killed outright."""
    return sorted(_temp_files([os.fspath(folder)]))


# --- the worker pool ---------------------------------------------------------
#
# Each worker has its own pipe and is handed one file at a time, so the parent
# always knows which file a worker holds: if the worker dies, exactly that file
# fails. multiprocessing.connection.wait watches the pipes and the process
# sentinels together. Workers ignore SIGINT (the parent decides what Ctrl-C
# means) and turn SIGTERM into an exception, so a stopped worker unwinds
# through imaging.write_image, which removes its temporary file.


class _Stopped(BaseException):
    """Raised in a worker by SIGTERM: the run is being stopped."""


def _on_sigterm(signum, frame):
    raise _Stopped


def _worker_main(conn, job: FilterJob, settings: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            source, target = task
            conn.send(_process_one(job, source, target, settings))
    except _Stopped:
        return


class _Worker:
    def __init__(self, ctx, job, settings):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, job, settings), daemon=True)
        self.task: int | None = None
        # Children are born ignoring SIGINT: a Ctrl-C while they start up must not
        # print a traceback from each of them.
        with _sigint_ignored():
            self.process.start()
        child.close()

    def give(self, index, item) -> bool:
        """Hand over a file; False if the worker is gone (it died while idle)."""
        try:
            self.conn.send(item)
        except (OSError, ValueError):
            return False
        self.task = index
        return True

    def stop(self, how: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            if how == "close":
                self.conn.send(None)
            elif how == "terminate":
                self.process.terminate()
            else:
                self.process.kill()


@contextlib.contextmanager
def _sigint_ignored():
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _death_reason(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed ({name}) while filtering it"
    return f"the worker process exited unexpectedly (exit code {code}) while filtering it"


def _run_pool(job, items, size, settings, record) -> None:
    import multiprocessing
    from multiprocessing.connection import wait

    # spawn: a fresh interpreter per worker, the same on every platform and safe
    # whatever threads the caller has running.
    ctx = multiprocessing.get_context("spawn")
    pending = iter(enumerate(items))
    workers: list[_Worker] = []

    def retire(worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        workers.remove(worker)

    def hand_next(worker: _Worker) -> None:
        """Give ``worker`` the next file; replace it first if it has died meanwhile."""
        nxt = next(pending, None)
        while nxt is not None:
            if worker.give(*nxt):
                return
            retire(worker)
            worker = _Worker(ctx, job, settings)
            workers.append(worker)

    try:
        workers = [_Worker(ctx, job, settings) for _ in range(size)]
        for worker in list(workers):
            hand_next(worker)
        while any(w.task is not None for w in workers):
            busy = [w for w in workers if w.task is not None]
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    result = worker.conn.recv() if worker.conn.poll() else None
                except (EOFError, OSError):
                    result = None
                index, worker.task = worker.task, None
                if result is not None:
                    record(index, result)
                    hand_next(worker)
                    continue
                if worker.process.is_alive():  # woken without a result: keep waiting
                    worker.task = index
                    continue
                retire(worker)
                source, target = items[index]
                record(index, FileResult(source, target, (), "", 0.0, "failed",
                                         f"{source}: {_death_reason(worker.process)}"))
                worker = _Worker(ctx, job, settings)
                workers.append(worker)
                hand_next(worker)
        for worker in workers:
            worker.stop("close")
        for worker in workers:
            worker.process.join()
    except BaseException:
        # Ctrl-C (or a bug): stop every worker; SIGTERM lets each remove its
        # temporary file, SIGKILL is the fallback for one that does not stop.
        with _sigint_ignored():
            for worker in workers:
                worker.stop("terminate")
            for worker in workers:
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.stop("kill")
                    worker.process.join()
            for worker in workers:  # results sent just before the stop still count
                with contextlib.suppress(EOFError, OSError):
                    if worker.task is not None and worker.conn.poll():
                        record(worker.task, worker.conn.recv())
        raise
    finally:
        for worker in workers:
            worker.conn.close()
