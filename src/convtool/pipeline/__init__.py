"""The per-file pipeline: what to do to an image, and doing it to pixels and files.

A :class:`FilterJob` says what to do to an image; the job builders
(:func:`blur_job`, :func:`mean_job`, :func:`convolve_job`, :func:`sharpen_job`,
:func:`edges_job`) make the job each command makes; :func:`apply_job` does it
to pixels, :func:`process_file` reads, filters and writes one file.

==============  ===========================================================
module          job
==============  ===========================================================
``choices``     closed sets of choices (edge operators); no numpy
``channels``    :func:`parse_channels`, :func:`channel_indices`
``job``         :class:`FilterJob`, :func:`apply_job`
``files``       :class:`FileResult`, :func:`process_file`
``builders``    one job builder per command, and :func:`kernel_job`
==============  ===========================================================

Public names are imported on first use, so the CLI can read ``choices`` cheaply.
"""

from __future__ import annotations

from convtool._lazy import lazy_attributes

_EXPORTS = {
    "EDGE_OPERATORS": "convtool.pipeline.choices",
    "CHANNEL_LETTERS": "convtool.pipeline.channels",
    "channel_indices": "convtool.pipeline.channels",
    "parse_channels": "convtool.pipeline.channels",
    "FilterJob": "convtool.pipeline.job",
    "apply_job": "convtool.pipeline.job",
    "FileResult": "convtool.pipeline.files",
    "process_file": "convtool.pipeline.files",
    "kernel_job": "convtool.pipeline.builders",
    "blur_job": "convtool.pipeline.builders",
    "mean_job": "convtool.pipeline.builders",
    "convolve_job": "convtool.pipeline.builders",
    "sharpen_job": "convtool.pipeline.builders",
    "edges_job": "convtool.pipeline.builders",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, __all__)
