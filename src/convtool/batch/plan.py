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
from convtool.errors import ImageReadError, ImageWriteError, UsageError
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


def _sorted_entries(folder: str) -> list:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as e:
        msg = f"{folder}: cannot list the folder ({e.strerror})"
        raise ImageReadError(msg) from None


def _folder_key(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk(folder: str, recursive: bool, avoid: set, hidden: bool = False
          ) -> Iterator[tuple]:
    """Yield (path, name) for files in ``folder``, sorted, not entering ``avoid`` (device, inode).

    Iterative (a stack of folders, not recursion: 1,200-level trees are fine),
    entering no folder twice (by device and inode) and no folder symlink. Names
    starting with ``.`` (macOS ``._*`` AppleDouble files, ``.git``) are passed over
    unless ``hidden``.
    """
    seen = {_folder_key(folder)}
    stack = [(iter(_sorted_entries(folder)), "")]
    while stack:
        entry = next(stack[-1][0], None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith(".") and not hidden:
            continue
        name = stack[-1][1] + entry.name
        if entry.is_dir(follow_symlinks=False):
            key = _folder_key(entry.path)
            if recursive and key not in seen and key not in avoid:
                seen.add(key)
                stack.append((iter(_sorted_entries(entry.path)), name + "/"))
        elif entry.is_file():
            yield entry.path, name


def _part_matches(name: str, part: str) -> bool:
    if name.startswith(".") and not part.startswith("."):
        return False  # as glob: wildcards do not match hidden names
    return fnmatch.fnmatchcase(name, part)


def _parts_match(names: list[str], parts: list[str]) -> bool:
    """Whether path components ``names`` match pattern components ``parts`` ('**': any number)."""
    # reach[j]: the names so far can be matched by parts[:j]
    reach = [True] + [False] * len(parts)
    for j, part in enumerate(parts):
        if part == "**":
            reach[j + 1] = reach[j + 1] or reach[j]
    for name in names:
        new = [False] * (len(parts) + 1)
        for j, part in enumerate(parts):
            if part == "**":
                ok = (reach[j] or reach[j + 1] or new[j]) and not name.startswith(".")
                new[j + 1] = new[j + 1] or ok
            elif reach[j] and _part_matches(name, part):
                new[j + 1] = True
        reach = new
    return reach[-1]


def _recursive_glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)`` without following a folder twice.

    glob follows folder symlinks, so a link back up makes '**' expand
    exponentially (and recurses once per level). Here the folders are walked
    with a stack, symlinked ones too, but each real folder (device, inode) once.
    """
    parts = pattern.split("/")
    first = next(i for i, part in enumerate(parts) if _has_magic(part))
    base = "/".join(parts[:first]) or ("/" if pattern.startswith("/") else ".")
    rest = parts[first:]
    if not os.path.isdir(base):
        return []
    found, seen = [], {_folder_key(base)}
    stack = [(base, [])]
    while stack:
        folder, names = stack.pop()
        try:
            entries = _sorted_entries(folder)
        except ImageReadError:
            continue  # as glob: folders it cannot list are passed over
        for entry in entries:
            path_names = [*names, entry.name]
            if _parts_match(path_names, rest):
                found.append(entry.path if base != "." else "/".join(path_names))
            if entry.is_dir() and not entry.name.startswith("."):
                key = _folder_key(entry.path)
                if key is not None and key not in seen:
                    seen.add(key)
                    stack.append((entry.path, path_names))
    return sorted(found)


def expand_inputs(paths, *, recursive: bool = False, include=(), exclude=(),
                  avoid=(), hidden: bool = False) -> Iterator[InputFile]:
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
    hidden : bool
        Also take files and folders whose names start with ``.`` in folders
        (patterns match them only when they say so, as the shell's do).

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
    avoid = {_folder_key(os.fspath(a)) for a in avoid} - {None}  # (device, inode)

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
            candidates = ((p, n, False) for p, n in _walk(path, recursive, avoid, hidden))
        elif os.path.lexists(path):
            candidates = iter([(path, os.path.basename(path), True)])
        elif _has_magic(path):
            if recursive and "**" in path:
                matches = _recursive_glob(path)
            else:
                matches = sorted(glob.iglob(path))
            if not matches:
                msg = f"{path}: no input files (the pattern matches nothing)"
                raise ImageReadError(msg)
            candidates = _expand_matches(matches, recursive, avoid, hidden)
        else:
            msg = f"{path}: no such file or folder"
            raise ImageReadError(msg)
        for p, n, direct in candidates:
            item = found(p, n, direct)
            if item is not None:
                yield item


def _expand_matches(matches, recursive, avoid, hidden):
    for match in matches:
        if os.path.isdir(match):
            for p, n in _walk(match, recursive, avoid, hidden):
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
               skip_existing: bool = False, hidden: bool = False) -> BatchPlan:
    """Pair every input with its output in ``out_dir``, refusing clashes before any work.

    Only names are listed here; no image is opened. ``recursive``, ``include``,
    ``exclude`` and ``hidden`` choose the inputs as :func:`expand_inputs` does.

    Raises
    ------
    UsageError
        Two inputs would write the same output, or an output would replace an input.
    ImageReadError
        As :func:`expand_inputs`, and when no image file is found at all
        ("no input files"), whether a pattern or ``include`` matched nothing.
    """
    out_dir = _check_out_dir(out_dir, format)
    _check_suffix(suffix)
    seen_inputs: set[str] = set()
    owner: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    skipped: list[FileResult] = []
    inputs = expand_inputs(paths, recursive=recursive, include=include, exclude=exclude,
                           avoid=[out_dir], hidden=hidden)
    for found in inputs:
        real = os.path.realpath(found.path)
        if real in seen_inputs:
            continue  # the same file reached twice (a folder and a pattern): once is enough
        seen_inputs.add(real)
        if found.skip:
            skipped.append(FileResult(found.path, "", (), "", 0.0, "skipped", found.skip))
            continue
        target = os.path.join(out_dir, output_name(found.name, suffix=suffix, format=format))
        _check_inside(out_dir, target)
        key = os.path.normcase(os.path.realpath(target))
        if key == real:
            msg = (f"{found.path}: the output would replace the input; "
                   "choose another out_dir or a suffix")
            raise UsageError(msg, params=("out_dir", "suffix"))
        if key in owner:
            raise _clash(owner[key], found.path, target, format)
        owner[key] = found.path
        items.append((found.path, target))
    for _, target in items:
        if os.path.realpath(target) in seen_inputs:
            msg = (f"{target}: would be written by this run and is also one of its inputs; "
                   "choose another out_dir")
            raise UsageError(msg, params=("out_dir",))
    if not items:
        raise _no_input_files(paths, include, skipped)
    if skip_existing:
        exists = [os.path.exists(t) for _, t in items]
        skipped += [FileResult(s, t, (), "", 0.0, "skipped", "the output already exists")
                    for (s, t), e in zip(items, exists, strict=True) if e]
        items = [item for item, e in zip(items, exists, strict=True) if not e]
    return BatchPlan(items, skipped)


def _clash(first: str, second: str, target: str, format: str | None) -> UsageError:
    """Two inputs, one output: say what can part them (neither suffix nor recursive can)."""
    stems = {os.path.splitext(os.path.basename(p))[0] for p in (first, second)}
    if format and len(stems) == 1 and os.path.dirname(first) == os.path.dirname(second):
        hint = (f"they differ only in extension and format {format} gives both the same: "
                "leave out format, or filter them in separate runs")
        return UsageError(f"{first} and {second} would both be written to {target}; {hint}",
                          params=("format",))
    hint = ("files of the same name from different inputs: filter them in separate runs "
            "into different folders, or rename one")
    return UsageError(f"{first} and {second} would both be written to {target}; {hint}")


def _no_input_files(paths, include, skipped) -> ImageReadError:
    where = ", ".join(os.fspath(p) for p in paths)
    if include:
        why = f"no image in {where} matches include {' '.join(include)}"
    elif skipped:
        why = f"{where} holds {len(skipped)} file(s), none an image (by its extension)"
    else:
        why = f"{where} holds no image files"
    return ImageReadError(f"no input files: {why}", params=("include",))


def make_out_dir(out_dir) -> None:
    """Create ``out_dir`` (and its parents) once, before any work.

    Raises :class:`ImageWriteError` naming the folder when it cannot be made, so a
    run fails with one message rather than once per file.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        msg = f"out_dir {out_dir}: cannot create the folder ({e.strerror or e})"
        raise ImageWriteError(msg, params=("out_dir",)) from None


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


def _check_suffix(suffix: str) -> None:
    seps = {"/", os.sep, os.altsep} - {None}
    if any(sep in suffix for sep in seps) or ".." in suffix:
        msg = (f"suffix {suffix!r}: must not hold path separators or '..': every output "
               "stays in out_dir")
        raise UsageError(msg, params=("suffix", "out_dir"))


def _check_inside(out_dir: str, target: str) -> None:
    """Refuse an output that would land outside ``out_dir`` (a name with '..', say)."""
    root = os.path.abspath(out_dir)
    where = os.path.abspath(target)
    if os.path.commonpath([root, where]) != root:
        msg = f"{target}: would be written outside out_dir {out_dir}; refused"
        raise UsageError(msg, params=("out_dir",))
