"""Planning a batch run: inputs from files, folders and patterns; output names; clashes.

Only names are listed here; no image is opened, and every clash is refused
before any work.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from convtool import imaging
from convtool.batch.results import file_record
from convtool.errors import ImageReadError, UsageError
from convtool.pipeline.files import FileResult


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

    def to_dict(self) -> dict:
        """The dry run's JSON report: as :meth:`BatchReport.to_dict`, with status ``planned``.

        ``summary`` is ``{"planned": N, "skipped": M}``.
        """
        files = [file_record(r) for r in self.skipped]
        files += [file_record(FileResult(s, t, (), "", 0.0, "planned")) for s, t in self.items]
        summary = {"planned": len(self.items), "skipped": len(self.skipped)}
        return {"summary": summary, "files": files}


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
    out_dir = _check_out_dir(out_dir, format)
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
                   "choose another out_dir or a suffix")
            raise UsageError(msg, params=("out_dir", "suffix"))
        if key in owner:
            msg = (f"{owner[key]} and {found.path} would both be written to {target}; "
                   "use recursive to keep sub-folders, a suffix, or separate runs")
            raise UsageError(msg, params=("recursive", "suffix"))
        owner[key] = found.path
        items.append((found.path, target))
    for _, target in items:
        if os.path.realpath(target) in seen_inputs:
            msg = (f"{target}: would be written by this run and is also one of its inputs; "
                   "choose another out_dir")
            raise UsageError(msg, params=("out_dir",))
    if skip_existing:
        exists = [os.path.exists(t) for _, t in items]
        skipped += [FileResult(s, t, (), "", 0.0, "skipped", "the output already exists")
                    for (s, t), e in zip(items, exists, strict=True) if e]
        items = [item for item, e in zip(items, exists, strict=True) if not e]
    return BatchPlan(items, skipped)


def _check_out_dir(out_dir, format: str | None) -> str:
    out_dir = os.fspath(out_dir)
    if not out_dir:
        msg = "out_dir must not be empty"
        raise UsageError(msg, params=("out_dir",))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        msg = f"out_dir {out_dir}: exists and is not a folder"
        raise UsageError(msg, params=("out_dir",))
    if format:
        imaging.output_format(out_dir, format)  # an unknown format fails first
    return out_dir
