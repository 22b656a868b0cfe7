"""One file, in memory or in tiles: the choice and the call every filtering command makes."""

from __future__ import annotations

import functools
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
        ``source`` may be a zarr array (a folder), always filtered in tiles.
    memory : int, optional
        Bytes filtering may take (default :func:`convtool.scale.outofcore.default_budget`).
        An image whose in-memory filtering would need more
        (:func:`convtool.scale.in_memory_bytes`) is filtered in tiles.
    tiles : int, optional
        Filter in tiles of ``tiles x tiles`` pixels whatever the size.
    max_pixels : int, optional
        The user's pixel limit, honoured on both paths. Left out, an image that
        can be read by region (TIFF, BigTIFF, zarr) has no pixel limit: its
        memory is bounded by ``memory`` instead (in memory when it fits, in
        tiles when not); an image decoded whole (PNG, JPEG...) keeps Pillow's
        limit, 89,478,485 pixels, its guard against decompression bombs.
    save, format, in_place, overwrite :
        As :func:`convtool.pipeline.process_file` (the tiled path writes a tiled
        BigTIFF; of ``save`` it honours ``no_clobber`` and a lossless ``compression``).
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
    tiled = tiles is not None or (_is_zarr(source) and extra_installed())
    if not tiled and source != "-" and os.path.isfile(source) \
            and _may_tile(source, target, explicit) and extra_installed():
        tiled, max_pixels = _in_tiles(job, source, target, memory, max_pixels, explicit)
    if not tiled:
        return pipeline.process_file(job, source, target, format=format, save=save,
                                     max_pixels=max_pixels, in_place=in_place,
                                     overwrite=overwrite)
    from convtool import scale

    if "-" in (source, target):
        msg = "tiled filtering reads and writes files: name them instead of '-' (stdin/stdout)"
        raise UsageError(msg)
    from convtool.pipeline.files import check_not_input, check_ours

    if not in_place:
        check_not_input(source, target)
    if not overwrite:  # the two-path rule, as in memory: replace only what convtool wrote
        check_ours(target)
    start = time.perf_counter()
    if save is not None and save.no_clobber and os.path.exists(target):
        from convtool.errors import ImageWriteError

        msg = f"{target}: exists; not replaced (--no-clobber)"
        raise ImageWriteError(msg)
    chosen = getattr(save, "compression", None)
    if chosen:
        from convtool.scale.tiled_write import chosen_compression

        chosen = chosen_compression(chosen)
    run = scale.filter_file(job, source, target, memory=memory, tiles=tiles,
                            max_pixels=max_pixels, compression=chosen, client=client)
    result = pipeline.FileResult(source, target, run.shape, run.method,
                                 time.perf_counter() - start)
    return replace(result, seconds=run.seconds)


def _is_zarr(path: str) -> bool:
    """A folder holding a zarr array (format 2 or 3): it can only be read in tiles."""
    return any(os.path.isfile(os.path.join(path, name)) for name in (".zarray", "zarr.json"))


def _tiff_extensions() -> tuple[str, ...]:
    from convtool.scale.tiled_write import TIFF_EXTENSIONS

    return TIFF_EXTENSIONS


@functools.cache
def extra_installed() -> bool:
    """Whether the tiled path can run (asked once a process: batches ask for every file)."""
    from convtool import scale

    try:
        scale.require_extra()
    except UsageError:
        return False
    return True


def _in_tiles(job, source: str, target: str, memory, max_pixels, explicit: bool):
    """``(tiled, max_pixels)``: whether ``source`` goes in tiles, and the in-memory limit.

    The default pixel limit (``max_pixels`` None) stays Pillow's for images
    decoded whole; an image read by region that fits the budget in memory is
    let through whatever its pixel count, since the budget bounds its memory.
    """
    from convtool import scale
    from convtool.scale.lazy_read import probe
    from convtool.scale.outofcore import default_budget

    found = probe(source)
    if found is None:
        return False, max_pixels
    shape, regional, mode = found
    budget = memory or default_budget()
    need = scale.in_memory_bytes(shape, job, mode)
    if need > budget:
        if explicit:
            _check_tiled_target(source, target, need, budget)
            return True, max_pixels
        # Not asked for: a non-TIFF output is filtered in memory, within the usual limit.
        return target.lower().endswith(_tiff_extensions()), max_pixels
    if regional and max_pixels is None:
        max_pixels = max(shape[0] * shape[1], _pillow_limit())
    return False, max_pixels


def _may_tile(source: str, target: str, explicit: bool) -> bool:
    """Whether :func:`_in_tiles` could say anything but ``(False, max_pixels)``.

    Only when the user set a budget, the output is a TIFF, or the input is one
    (read by region, it may pass Pillow's pixel limit): any other image is
    filtered in memory whatever its size, so its header need not be read first
    (nor the tiles' modules imported: a few ms of every small file's run).
    """
    from convtool.imaging.native import is_tiff

    return explicit or target.lower().endswith(_tiff_extensions()) or is_tiff(source)


def _pillow_limit() -> int:
    from PIL import Image as PILImage

    return PILImage.MAX_IMAGE_PIXELS or 0


def _check_tiled_target(source: str, target: str, need: int, budget: int) -> None:
    if not target.lower().endswith(_tiff_extensions()):
        msg = (f"{source}: filtering it in memory takes about {_size(need)}, more than the "
               f"memory budget of {_size(budget)} (--memory); write a .tif output to filter "
               "it in tiles, or raise --memory")
        raise UsageError(msg)


def _size(n: int) -> str:
    """Bytes for people: ``_size(2_500_000) == '2.5 MB'``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
