"""Kernels: the :class:`Kernel` value, builders, named kernels, the spec parser, kernel files.

Sizes in the Python API are ``(height, width)`` as numpy orders them; in kernel
specs (``mean:7x3``) they are written ``WIDTHxHEIGHT`` as image sizes are
(ImageMagick, libvips).

Where things live (every public name is also importable from here, lazily):

============  ==============================================================
module        job
============  ==============================================================
``choices``   closed sets of choices: gradient operators, normalise modes,
              kernel names (no numpy)
``model``     :class:`Kernel`, the size limits, shared argument checks
``builders``  :func:`gaussian_kernel`, :func:`mean_kernel`,
              :func:`gradient_kernel`, :func:`laplacian_kernel`,
              :func:`disk_kernel`, :func:`motion_kernel`, :func:`log_kernel`,
              :func:`unsharp_kernel`; the named weights as constants
``named``     :data:`NAMED_KERNELS`, the registry the spec names come from
``spec``      :func:`parse_kernel` (the spec language), :func:`parse_size`
``files``     :func:`load_kernel`: text, CSV, ``.npy`` and libvips ``.mat``
``adjust``    :func:`adjust_kernel`: normalise, scale, correlate (flip);
              :func:`response_bound`
============  ==============================================================

Examples
--------
>>> from convtool.kernels import parse_kernel
>>> parse_kernel("gaussian:1").shape
(9, 9)
"""

from __future__ import annotations

from convtool._lazy import lazy_attributes

# The errors were importable from the old single module; kept for callers that did.
from convtool.errors import KernelError, UsageError

_EXPORTS = {
    "Kernel": "convtool.kernels.model",
    "MAX_KERNEL_TAPS": "convtool.kernels.model",
    "MAX_KERNEL_SIDE": "convtool.kernels.model",
    "ZERO_SUM_RTOL": "convtool.kernels.model",
    "gaussian_1d": "convtool.kernels.builders",
    "gaussian_kernel": "convtool.kernels.builders",
    "mean_kernel": "convtool.kernels.builders",
    "gradient_kernel": "convtool.kernels.builders",
    "laplacian_kernel": "convtool.kernels.builders",
    "disk_kernel": "convtool.kernels.builders",
    "motion_kernel": "convtool.kernels.builders",
    "log_kernel": "convtool.kernels.builders",
    "unsharp_kernel": "convtool.kernels.builders",
    "IDENTITY": "convtool.kernels.builders",
    "SHARPEN": "convtool.kernels.builders",
    "EMBOSS": "convtool.kernels.builders",
    "LAPLACIAN_4": "convtool.kernels.builders",
    "LAPLACIAN_8": "convtool.kernels.builders",
    "DIFFERENCE": "convtool.kernels.builders",
    "GRADIENT_SMOOTHING": "convtool.kernels.builders",
    "GradientOperator": "convtool.kernels.choices",
    "GRADIENT_OPERATORS": "convtool.kernels.choices",
    "Normalize": "convtool.kernels.choices",
    "NORMALIZE_CHOICES": "convtool.kernels.choices",
    "KERNEL_NAMES": "convtool.kernels.choices",
    "load_kernel": "convtool.kernels.files",
    "NamedKernel": "convtool.kernels.named",
    "NAMED_KERNELS": "convtool.kernels.named",
    "parse_kernel": "convtool.kernels.spec",
    "parse_size": "convtool.kernels.spec",
    "SPEC_FORMS": "convtool.kernels.spec",
    "normalize_kernel": "convtool.kernels.adjust",
    "flip_kernel": "convtool.kernels.adjust",
    "adjust_kernel": "convtool.kernels.adjust",
    "response_bound": "convtool.kernels.adjust",
}

__all__ = ["KernelError", "UsageError", *_EXPORTS]

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, __all__)
