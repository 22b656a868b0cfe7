"""Closed sets of choices for kernels, free of numpy (cheap to import, for help and completion)."""

from __future__ import annotations

from typing import Literal

GradientOperator = Literal["sobel", "scharr", "prewitt"]
#: Gradient operators, as :func:`~convtool.kernels.gradient_kernel` and ``edges`` take them.
GRADIENT_OPERATORS: tuple[str, ...] = ("sobel", "scharr", "prewitt")

Normalize = Literal["auto", "sum", "none"]
#: How :func:`~convtool.kernels.normalize_kernel` divides by the sum.
NORMALIZE_CHOICES: tuple[str, ...] = ("auto", "sum", "none")

#: The names of :data:`~convtool.kernels.NAMED_KERNELS`, in the order listed.
KERNEL_NAMES: tuple[str, ...] = (
    "gaussian", "mean", "box", "identity", "sharpen", "emboss", "laplacian",
    *(f"{op}-{axis}" for op in GRADIENT_OPERATORS for axis in ("x", "y")),
    "disk", "motion", "log",
)
