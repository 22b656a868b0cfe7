"""The per-file pipeline: what to do to an image, and doing it to pixels and files.

A :class:`FilterJob` says what to do to an image; the job builders
(:func:`blur_job`, :func:`mean_job`, :func:`convolve_job`, :func:`sharpen_job`,
:func:`edges_job`) make the job each command makes; :func:`apply_job` does it
to pixels, :func:`process_file` reads, filters and writes one file.
"""

from convtool.pipeline.builders import (
    EDGE_OPERATORS,
    blur_job,
    convolve_job,
    edges_job,
    kernel_job,
    mean_job,
    sharpen_job,
)
from convtool.pipeline.channels import CHANNEL_LETTERS, channel_indices, parse_channels
from convtool.pipeline.files import FileResult, process_file
from convtool.pipeline.job import FilterJob, apply_job

__all__ = [
    "CHANNEL_LETTERS",
    "EDGE_OPERATORS",
    "FileResult",
    "FilterJob",
    "apply_job",
    "blur_job",
    "channel_indices",
    "convolve_job",
    "edges_job",
    "kernel_job",
    "mean_job",
    "parse_channels",
    "process_file",
    "sharpen_job",
]
