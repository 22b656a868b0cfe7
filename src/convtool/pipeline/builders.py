"""Job builders: one per command, so the library gives exactly what the CLI gives.

Every builder takes its filter's own parameters and then the job options shared
by all of them (:func:`kernel_job`'s keywords), and returns a
:class:`~convtool.pipeline.FilterJob`::

    >>> from convtool.pipeline import sharpen_job
    >>> job = sharpen_job(sigma=2, amount=0.5, threshold=0.1, channels="rgb")
    >>> job.threshold, job.channels
    (0.05, 'rgb')
"""

from __future__ import annotations

import math

from convtool import kernels
from convtool.errors import UsageError
from convtool.kernels.choices import GRADIENT_OPERATORS
from convtool.pipeline.choices import EDGE_OPERATORS
from convtool.pipeline.job import FilterJob


def kernel_job(kernel: kernels.Kernel, *, kernel_y: kernels.Kernel | None = None,
               normalize: str = "none", scale: float = 1.0, correlate: bool = False,
               absolute: bool = False, **fields) -> FilterJob:
    """A :class:`FilterJob` from a kernel and the options every filter shares.

    Parameters
    ----------
    kernel, kernel_y : Kernel
        The kernel (and the y part of a gradient pair), before the adjustments.
    normalize, scale, correlate :
        Applied to ``kernel`` and ``kernel_y`` by :func:`convtool.kernels.adjust_kernel`.
    absolute : bool
        Write the absolute value of the response.
    **fields
        Any other :class:`FilterJob` field: ``mode``, ``cval``, ``method``,
        ``bias``, ``channels``, ``alpha``, ``linear``, ``threads``, ``stretch``,
        ``threshold``.
    """
    def adjust(k):
        return kernels.adjust_kernel(k, normalize=normalize, scale=scale, correlate=correlate)

    return FilterJob(adjust(kernel), kernel_y=None if kernel_y is None else adjust(kernel_y),
                     absolute=absolute, **fields)


def blur_job(sigma: float = 1.0, radius: int | None = None, **options) -> FilterJob:
    """Gaussian blur (``convtool blur``); ``options`` as :func:`kernel_job`.

    >>> blur_job(2.0).kernel.shape
    (17, 17)
    """
    return kernel_job(kernels.gaussian_kernel(sigma, radius), **options)


def mean_job(size: int = 3, **options) -> FilterJob:
    """Mean (box) filter over a ``size x size`` box (``convtool mean``)."""
    return kernel_job(kernels.mean_kernel(size), **options)


def convolve_job(kernel, **options) -> FilterJob:
    """Convolve with any kernel (``convtool convolve``).

    ``kernel`` is a :class:`~convtool.kernels.Kernel`, or a spec as
    :func:`convtool.kernels.parse_kernel` reads (``"gaussian:2"``,
    ``"1 2 1; 2 4 2; 1 2 1"``, a file). Its weights are used as given unless
    ``normalize`` says otherwise.
    """
    if not isinstance(kernel, kernels.Kernel):
        kernel = kernels.parse_kernel(kernel)
    return kernel_job(kernel, **options)


def sharpen_job(sigma: float = 1.0, amount: float = 1.0, threshold: float = 0.0,
                **options) -> FilterJob:
    """Unsharp mask: ``image + amount * (image - gaussian(image, sigma))``.

    ``threshold`` (on the 0..1 scale) leaves a value unchanged where
    ``|image - blurred|`` is below it, so flat areas and noise are not sharpened.
    """
    if not threshold >= 0:
        msg = f"threshold must be a number >= 0, got {threshold}"
        raise UsageError(msg, params=("threshold",))
    # The job's threshold compares the filtered value with the original, which
    # differ by amount * |image - blurred|.
    return kernel_job(kernels.unsharp_kernel(sigma, amount), threshold=amount * threshold,
                      **options)


def edges_job(operator: str = "sobel", sigma: float = 1.0, stretch: bool = True,
              **options) -> FilterJob:
    """Edge strength as a viewable image (``convtool edges``).

    Parameters
    ----------
    operator : {"sobel", "scharr", "prewitt", "laplacian", "log"}
        A gradient operator gives the magnitude ``hypot(x, y)``; ``laplacian``
        (4-neighbour) and ``log`` (Laplacian of Gaussian of ``sigma``) give the
        absolute value of the response.
    stretch : bool
        True: divide by the image's largest response, so the strongest edge is
        1. False: divide by the largest response the operator can give on any
        image in 0..1 (:func:`convtool.kernels.response_bound`).

    >>> round(float(edges_job("sobel", stretch=False).kernel.array[1, 0]), 4)
    0.3536
    """
    name = str(operator).strip().lower()
    if name in ("laplacian", "log"):
        k = kernels.laplacian_kernel(4) if name == "laplacian" else kernels.log_kernel(sigma)
        bound = 1.0 if stretch else kernels.response_bound(k)
        options["absolute"] = True
        return kernel_job(k.scaled(1.0 / bound), stretch=stretch, **options)
    if name not in GRADIENT_OPERATORS:
        msg = f"unknown operator {operator!r}: choose one of {', '.join(EDGE_OPERATORS)}"
        raise UsageError(msg, params=("operator",))
    kx, ky = kernels.gradient_kernel(name, "x"), kernels.gradient_kernel(name, "y")
    bound = 1.0
    if not stretch:
        bound = math.hypot(kernels.response_bound(kx), kernels.response_bound(ky))
    return kernel_job(kx.scaled(1.0 / bound), kernel_y=ky.scaled(1.0 / bound),
                      stretch=stretch, **options)
