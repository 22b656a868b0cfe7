"""What to do to an image (:class:`FilterJob`) and doing it to pixels (:func:`apply_job`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from convtool import engine, imaging, kernels
from convtool.errors import UsageError
from convtool.kernels import Kernel
from convtool.pipeline.channels import channel_indices, parse_channels


@dataclass(frozen=True)
class FilterJob:
    """One filter, ready to run on any number of images.

    Build one with a job builder (:func:`~convtool.pipeline.blur_job`,
    :func:`~convtool.pipeline.edges_job`, ...) to get exactly what the
    command of that name does; the fields are validated on construction.

    Attributes
    ----------
    kernel : Kernel
    mode, cval, method :
        As :func:`convtool.engine.convolve`.
    kernel_y : Kernel or None
        When set, ``kernel`` and ``kernel_y`` are the x and y parts of a
        gradient operator and the response is the magnitude
        ``hypot(image * kernel, image * kernel_y)`` (``convtool edges``).
    absolute : bool
        Take the absolute value of the response (edge kernels).
    stretch : bool
        Divide the response by its largest absolute value over the whole image
        (all filtered channels), so the strongest response becomes 1.
    bias : float
        Added to every sample after filtering (and after ``absolute``), on the
        0..1 scale, together with ``kernel.offset``.
    threshold : float
        Leave a sample unchanged where the filter would change it by less than
        this (unsharp masking's threshold), on the 0..1 scale; 0 changes all.
    channels : str or None
        Letters of the channels to filter (``"rgb"``, ``"a"``, ``"rg"``; l is
        the grey channel); the others are copied unchanged. None filters all.
    alpha : {"premultiply", "separate", "ignore"}
        How an alpha channel takes part (:data:`convtool.imaging.ALPHA_MODES`).
    linear : bool
        Convolve in linear light (sRGB decoded before, encoded after).
    threads : int or None
        Threads the engine may use for one image; None: one per core.
        :func:`convtool.batch.run_batch` divides the cores among its workers.
    """

    kernel: Kernel
    mode: str = "reflect"
    cval: float = 0.0
    method: str = "auto"
    kernel_y: Kernel | None = None
    absolute: bool = False
    stretch: bool = False
    bias: float = 0.0
    threshold: float = 0.0
    channels: str | None = None
    alpha: str = "premultiply"
    linear: bool = False
    threads: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "mode", engine.normalize_mode(self.mode))
        object.__setattr__(self, "method", engine.normalize_method(self.method))
        object.__setattr__(self, "channels", parse_channels(self.channels))
        for name in ("bias", "threshold"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or (name == "threshold" and value < 0):
                least = " >= 0" if name == "threshold" else ""
                msg = f"{name} must be a finite number{least}, got {getattr(self, name)!r}"
                raise UsageError(msg, params=(name,))
            object.__setattr__(self, name, value)
        object.__setattr__(self, "alpha", imaging.normalize_alpha(self.alpha))

    def plan_for(self, shape, dtype="float32") -> engine.Plan:
        """The engine's plan for pixels of ``shape`` and ``dtype``: one kernel analysis per job."""
        return engine.plan(shape, self.kernel.array, dtype=dtype, mode=self.mode,
                           method=self.method)

    def method_for(self, shape, dtype="float32") -> str:
        """The method that will run for pixels of ``shape``."""
        return self.plan_for(shape, dtype).method


def _respond(job: FilterJob, pixels: np.ndarray, plan: engine.Plan,
             rows: tuple[int, int] | None = None) -> np.ndarray:
    """The filter's response: one convolution, or a gradient magnitude, then the post-ops
    (of the pixels' ``rows`` only, when given)."""
    # A channel subset has another shape than the plan's: its method still holds.
    out = engine.convolve(pixels, mode=job.mode, cval=job.cval, method=plan.method,
                          threads=job.threads, plan=plan, rows=rows)
    if job.kernel_y is not None:
        # Gradient pairs are transposes of each other: the same method suits both.
        other = engine.convolve(pixels, job.kernel_y.array, mode=job.mode, cval=job.cval,
                                method=plan.method, threads=job.threads, rows=rows)
        out = np.hypot(out, other)
    if job.absolute:
        out = np.abs(out)
    if job.stretch:
        peak = float(np.abs(out).max(initial=0.0))
        if peak > 0:
            out = out / np.asarray(peak, dtype=out.dtype)
    if job.threshold > 0:
        given = pixels if rows is None else pixels[rows[0]:rows[1]]
        out = np.where(np.abs(out - given) < job.threshold, given, out)
    bias = job.bias + job.kernel.offset
    if bias:
        out = out + np.asarray(bias, dtype=out.dtype)
    return out


def _check_cval(job: FilterJob, image: imaging.Image) -> None:
    # Integer images are filtered on the 0..1 scale, so a cval outside it is
    # almost always a mistake (255 meant as white): refuse it rather than guess.
    if job.mode == "constant" and image.unit_scale and not 0.0 <= job.cval <= 1.0:
        msg = (f"cval {job.cval:g} is not between 0 and 1: for {image.mode} images cval is on "
               "the 0..1 scale (0 is black, 1 is white, whatever the bit depth)")
        raise UsageError(msg, params=("cval",))


def _check_range(job: FilterJob, image: imaging.Image, work: np.ndarray) -> None:
    """Refuse a filter whose response could overflow the pixels' float type.

    The bound is the kernel's largest response on data of the image's peak
    magnitude (1 for integer images, which are on the 0..1 scale), plus the
    bias: beyond the float type's range numpy would warn and write inf.
    """
    peak = 1.0
    if not image.unit_scale and work.size:
        peak = max(peak, float(np.abs(work).max()))
    if job.mode == "constant":
        peak = max(peak, abs(job.cval))
    bound = kernels.response_bound(job.kernel)
    if job.kernel_y is not None:
        bound = float(np.hypot(bound, kernels.response_bound(job.kernel_y)))
    with np.errstate(over="ignore"):
        reach = bound * peak + abs(job.bias + job.kernel.offset)
    top = float(np.finfo(work.dtype).max)
    if not reach <= top:
        msg = (f"the response can reach {reach:.3g} (kernel weights, --scale, --bias and the "
               f"image's values together), beyond the largest {work.dtype} value ({top:.3g}): "
               "it would overflow; use smaller weights, --scale or --bias")
        raise UsageError(msg)


def apply_job(job: FilterJob, image: imaging.Image, *,
              rows: tuple[int, int] | None = None) -> imaging.Image:
    """Filter an image's pixels (every frame); returns a new :class:`~convtool.imaging.Image`.

    With ``channels`` naming a subset, those channels are filtered as they are
    (alpha is not premultiplied into them) and the others are copied.
    ``rows`` (start, stop) filters only those rows, reading the others as the
    neighbours they are, and returns an image of those rows: a band of a larger
    image with its neighbours' rows around it (:mod:`convtool.pipeline.bands`).
    Not with ``stretch``, which divides by the whole image's peak.
    """
    if image.extra_frames:
        first, *rest = (apply_job(job, frame, rows=rows) for frame in image.frames)
        return replace(first, extra_frames=tuple(rest))
    if rows is not None and job.stretch:
        msg = "stretch divides by the whole image's peak: filter the whole image, not rows of it"
        raise UsageError(msg)
    region = image if rows is None else replace(image, pixels=image.pixels[rows[0]:rows[1]])
    _check_cval(job, image)
    chosen = channel_indices(image.mode, job.channels, image.pixels.shape[-1])
    subset = len(chosen) < image.pixels.shape[-1]
    alpha = "separate" if subset else job.alpha
    work = imaging.filter_space(image, alpha=alpha, linear=job.linear)
    _check_range(job, image, work)
    plan = job.plan_for(work.shape, work.dtype)
    if subset:
        out = work[rows[0]:rows[1]].copy() if rows else work.copy()
        out[..., chosen] = _respond(job, work[..., chosen], plan, rows)
    else:
        out = _respond(job, work, plan, rows)
    pixels = imaging.image_space(out, region, alpha=alpha, linear=job.linear)
    return replace(region, pixels=pixels.astype(image.pixels.dtype, copy=False))
