"""Images larger than memory: filtering in tiles, exactly as in memory.

Needs the optional dependencies (``pip install 'convtool[dask]'``): dask,
tifffile and zarr. :func:`filter_file` reads an image by region, filters it
tile by tile within a memory budget and writes a tiled BigTIFF band by band;
:func:`needs_tiles` says when an image is too large to filter in memory.

==================  ==============================================================
module              job
==================  ==============================================================
``tiles``           the tile grid, each tile's window (index rules), memory model
``lazy_read``       reading by region: TIFF/BigTIFF and zarr, or decode once
``tiled_write``     the tiled BigTIFF writer, band by band, atomic
``outofcore``       filtering tiles through dask.array; the exactness argument
``strips``          the separable FFT as whole columns, then whole rows
==================  ==============================================================
"""

from __future__ import annotations

import os

from convtool.errors import UsageError

#: The one line shown when a flag needs the optional dependencies.
MISSING_EXTRA = ("tiled and cluster processing need the optional dependencies: "
                 "pip install 'convtool[dask]'")


def require_extra() -> None:
    """Raise :class:`UsageError` naming the extra when dask, tifffile or zarr is missing."""
    import importlib.util

    for name in ("dask", "tifffile", "zarr"):
        if importlib.util.find_spec(name) is None:
            raise UsageError(MISSING_EXTRA)


def in_memory_bytes(shape, job=None, mode: str | None = None) -> int:
    """Bytes filtering an image of ``shape`` (H, W, C) in memory takes, by the tiles' model.

    An 8-bit image (``mode`` L, LA, RGB, RGBA, CMYK or P) that the pipeline
    filters a band of rows at a time (:func:`convtool.pipeline.bands.can_band`:
    not ``wrap``, not ``stretch``) costs :data:`~convtool.scale.tiles.BANDED_BYTES`
    a sample; anything else :data:`~convtool.scale.tiles.IN_MEMORY_FLOATS` float32
    copies (more for a gradient pair).
    """
    from convtool.scale.tiles import BANDED_BYTES, GRADIENT_FLOATS, IN_MEMORY_FLOATS

    h, w, c = shape
    if (mode in ("L", "LA", "RGB", "RGBA", "CMYK", "P") and job is not None
            and not job.stretch and job.mode != "wrap"):
        return h * w * c * BANDED_BYTES
    floats = IN_MEMORY_FLOATS + (GRADIENT_FLOATS if job is not None and job.kernel_y else 0)
    return h * w * c * 4 * floats


def needs_tiles(source, *, memory: int | None = None, job=None) -> bool:
    """True when ``source`` is a file whose in-memory filtering would exceed ``memory`` bytes.

    Only files that can be measured without decoding (TIFF, zarr, and any
    format whose header Pillow reads) are considered; standard input never is.
    """
    from convtool.scale.lazy_read import probe
    from convtool.scale.outofcore import default_budget

    source = os.fspath(source)
    if source == "-":
        return False
    found = probe(source)
    if found is None:
        return False
    shape, _, mode = found
    return in_memory_bytes(shape, job, mode) > (memory or default_budget())


def filter_file(job, source, target, *, memory: int | None = None, tiles: int | None = None,
                max_pixels: int | None = None, compression=None, client=None, progress=None):
    """Filter ``source`` into the tiled BigTIFF ``target`` within ``memory`` bytes.

    Parameters
    ----------
    job : FilterJob
    source, target : str or path
        ``target`` must name a TIFF (``.tif``, ``.tiff``).
    memory : int, optional
        The budget in bytes; default :func:`convtool.scale.outofcore.default_budget`.
    tiles : int, optional
        Force tiles of ``tiles x tiles`` output pixels.
    max_pixels : int, optional
        Refuse larger images (see :func:`convtool.scale.lazy_read.open_reader`).
    compression : str, optional
        TIFF compression of the output; default the input's (zlib for non-TIFF inputs).
    client : dask.distributed.Client, optional
        Run the tiles on a cluster.

    Returns
    -------
    TiledRun
    """
    require_extra()
    from convtool.scale.lazy_read import open_reader
    from convtool.scale.outofcore import default_budget, filter_tiled
    from convtool.scale.tiled_write import TiledTiffWriter, check_tiff_target

    source, target = os.fspath(source), os.fspath(target)
    check_tiff_target(target)
    reader = open_reader(source, max_pixels=max_pixels)
    if client is not None:
        from convtool.scale.dask_batch import check_workers
        from convtool.scale.lazy_read import ArrayReader

        # The workers read the input themselves (an image decoded here travels with the tasks).
        regional = not isinstance(reader, ArrayReader) or hasattr(reader, "path")
        check_workers(client, (), [os.path.abspath(source)] if regional else [])
    tile_edge = (getattr(reader, "tile", None) or (256, 256))[0]
    if tile_edge % 16:
        tile_edge = 256
    writer = TiledTiffWriter(target, reader.shape, reader.mode, tile=tile_edge,
                             compression=compression or getattr(reader, "compression", None),
                             info=reader.info)
    with reader, writer:
        return filter_tiled(job, reader, writer, budget=memory or default_budget(), tile=tiles,
                            client=client, progress=progress)
