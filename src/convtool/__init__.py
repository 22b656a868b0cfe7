"""convtool: exact, fast image convolution.

The public API, imported lazily so that ``import convtool`` stays cheap::

    >>> import numpy as np
    >>> from convtool import convolve, gaussian_kernel
    >>> convolve(np.zeros((5, 5)), gaussian_kernel(1.0)).shape
    (5, 5)
"""

from __future__ import annotations

from convtool._lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "convolve": "convtool.engine",
    "choose_method": "convtool.engine",
    "MODES": "convtool.engine",
    "Kernel": "convtool.kernels",
    "gaussian_kernel": "convtool.kernels",
    "mean_kernel": "convtool.kernels",
    "load_kernel": "convtool.kernels",
    "parse_kernel": "convtool.kernels",
    "adjust_kernel": "convtool.kernels",
    "Image": "convtool.imaging",
    "read_image": "convtool.imaging",
    "write_image": "convtool.imaging",
    "SaveOptions": "convtool.imaging",
    "FilterJob": "convtool.pipeline",
    "apply_job": "convtool.pipeline",
    "process_file": "convtool.pipeline",
    "blur_job": "convtool.pipeline",
    "mean_job": "convtool.pipeline",
    "convolve_job": "convtool.pipeline",
    "sharpen_job": "convtool.pipeline",
    "edges_job": "convtool.pipeline",
    "plan_batch": "convtool.batch",
    "run_batch": "convtool.batch",
    "BatchReport": "convtool.batch",
    "Executor": "convtool.batch",
    "ConvtoolError": "convtool.errors",
    "UsageError": "convtool.errors",
    "KernelError": "convtool.errors",
    "ImageReadError": "convtool.errors",
    "ImageWriteError": "convtool.errors",
}

__all__ = ["__version__", *_EXPORTS]

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, __all__)
