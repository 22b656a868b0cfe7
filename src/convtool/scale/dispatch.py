"""One file, in memory or in tiles: the choice and the call every filtering command makes."""

from __future__ import annotations

import os
import time
from dataclasses import replace

from convtool.errors import UsageError


def process_file(job, source, target, *, memory: int | None = None, tiles: int | None = None,
                 max_pixels: int | None = None, save=None, format: str | None = None,
                 in_place: bool = False, overwrite: bool = True, client=None,
                 explicit: bool = True):
    """Filter one file, in tiles when asked or when it would not fit ``memory``; else in memory.

    Parameters
    ----------
    job : FilterJob
    source, target : str or path
    memory : int, optional
        Bytes filtering may take (default :func:`convtool.scale.outofcore.default_budget`).
        An image whose in-memory filtering would need more
        (:func:`convtool.scale.in_memory_bytes`) is filtered in tiles.
    tiles : int, optional
        Filter in tiles of ``tiles x tiles`` pixels whatever the size.
    max_pixels : int, optional
        The user's pixel limit, honoured on both paths. Left out, an image read
        by region (TIFF, zarr) has none on the tiled path, since its memory is
        bounded by ``memory``; an image decoded whole keeps Pillow's limit.
    save, format, in_place, overwrite :
        As :func:`convtool.pipeline.process_file` (the tiled path writes a tiled
        BigTIFF; of ``save`` it honours ``no_clobber``).
    explicit : bool
        The caller chose ``memory`` (the user gave ``--memory``): an image over
        the budget with a non-TIFF output is refused. Otherwise such an image
        is filtered in memory, as without this module.

    Returns
    -------
    FileResult
    """
    from convtool import pipeline

    source, target = os.fspath(source), os.fspath(target)
    tiled = tiles is not None
    if not tiled and source != "-" and os.path.isfile(source) and _extra_installed():
        from convtool import scale

        if scale.needs_tiles(source, memory=memory, job=job):
            tiled = explicit or target.lower().endswith(_tiff_extensions())
            if explicit:
                _check_tiled_target(source, target, memory, job)
    if not tiled:
        return pipeline.process_file(job, source, target, format=format, save=save,
                                     max_pixels=max_pixels, in_place=in_place,
                                     overwrite=overwrite)
    from convtool import scale

    if "-" in (source, target):
        msg = "tiled filtering reads and writes files: name them instead of '-' (stdin/stdout)"
        raise UsageError(msg)
    if not in_place and os.path.exists(target) and os.path.samefile(source, target):
        msg = (f"{target}: the output is the input file; convtool does not replace its "
               "input unless asked (choose another output name, or add --in-place)")
        raise UsageError(msg)
    start = time.perf_counter()
    if save is not None and save.no_clobber and os.path.exists(target):
        from convtool.errors import ImageWriteError

        msg = f"{target}: exists; not replaced (--no-clobber)"
        raise ImageWriteError(msg)
    run = scale.filter_file(job, source, target, memory=memory, tiles=tiles,
                            max_pixels=max_pixels, client=client)
    result = pipeline.FileResult(source, target, run.shape, run.method,
                                 time.perf_counter() - start)
    return replace(result, seconds=run.seconds)


def _tiff_extensions() -> tuple[str, ...]:
    from convtool.scale.tiled_write import TIFF_EXTENSIONS

    return TIFF_EXTENSIONS


def _extra_installed() -> bool:
    from convtool import scale

    try:
        scale.require_extra()
    except UsageError:
        return False
    return True


def _check_tiled_target(source: str, target: str, memory, job) -> None:
    from convtool import scale
    from convtool.scale.lazy_read import probe_shape
    from convtool.scale.outofcore import default_budget
    if not target.lower().endswith(_tiff_extensions()):
        need = scale.in_memory_bytes(probe_shape(source), job)
        budget = memory or default_budget()
        msg = (f"{source}: filtering it in memory takes about {need / 1e9:.1f} GB, more than "
               f"--memory {budget / 1e9:.1f} GB; write a .tif output to filter it in tiles, "
               "or raise --memory")
        raise UsageError(msg)
