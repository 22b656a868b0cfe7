"""The registry of named kernels: what ``gaussian:2``, ``sobel-x``... build.

To add a kernel name: write its builder in :mod:`convtool.kernels.builders`,
register it here, and add the name to
:data:`convtool.kernels.choices.KERNEL_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from convtool.kernels.builders import (
    EMBOSS,
    GRADIENT_SMOOTHING,
    IDENTITY,
    SHARPEN,
    disk_kernel,
    gaussian_kernel,
    gradient_kernel,
    laplacian_kernel,
    log_kernel,
    mean_kernel,
    motion_kernel,
)
from convtool.kernels.model import Kernel


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "sigma", "size", "radius" (each may be WxH), "positive", "number", "int"
    default: object = None
    required: bool = False


@dataclass(frozen=True)
class NamedKernel:
    """One entry of :data:`NAMED_KERNELS`: how a spec name builds its kernel."""

    name: str
    params: tuple
    build: object
    description: str
    example: str


def _pair(value):
    # Specs write sizes WIDTHxHEIGHT; builders take (height, width).
    return value if isinstance(value, float | int) else (value[1], value[0])


def _build_gaussian(sigma, radius=None):
    return gaussian_kernel(_pair(sigma), None if radius is None else _pair(radius))


def _build_mean(size):
    return mean_kernel(_pair(size))


def _constant(array, name):
    def build():
        return Kernel(array, name=name)
    return build


def _gradient(operator, axis):
    def build():
        return gradient_kernel(operator, axis)
    return build


_SIGMA = Param("sigma", "sigma", required=True)
NAMED_KERNELS: dict[str, NamedKernel] = {}


def _register(name, params, build, description, example):
    NAMED_KERNELS[name] = NamedKernel(name, tuple(params), build, description, example)


_register("gaussian", [_SIGMA, Param("radius", "radius")], _build_gaussian,
          "Gaussian blur; SX x SY for an anisotropic one; radius defaults to 4 sigma",
          "gaussian:2, gaussian:sigma=2,radius=6, gaussian:3x1")
_register("mean", [Param("size", "size", required=True)], _build_mean,
          "box average, SIZE or WIDTHxHEIGHT", "mean:5, mean:7x3")
_register("box", [Param("size", "size", required=True)], _build_mean,
          "same as mean", "box:5")
_register("identity", [], _constant(IDENTITY, "identity"),
          "1x1 kernel [1]: leaves the image unchanged", "identity")
_register("sharpen", [], _constant(SHARPEN, "sharpen"),
          "3x3 sharpen [0 -1 0; -1 5 -1; 0 -1 0]", "sharpen")
_register("emboss", [], _constant(EMBOSS, "emboss"),
          "3x3 emboss [-2 -1 0; -1 1 1; 0 1 2]", "emboss")
_register("laplacian", [Param("neighbours", "int", default=4)],
          lambda neighbours=4: laplacian_kernel(neighbours),
          "3x3 Laplacian over 4 (default) or 8 neighbours, zero-sum", "laplacian, laplacian:8")
for _op in GRADIENT_SMOOTHING:
    _smooth = "[" + " ".join(f"{v:g}" for v in GRADIENT_SMOOTHING[_op]) + "]"
    for _axis, _where, _form in (("x", "rising to the right", f"{_smooth}ᵀ [1 0 -1]"),
                                 ("y", "rising downwards", f"[1 0 -1]ᵀ {_smooth}")):
        _register(f"{_op}-{_axis}", [], _gradient(_op, _axis),
                  f"{_op.capitalize()} gradient {_form}, positive for brightness {_where}",
                  f"{_op}-{_axis}")
_register("disk", [Param("radius", "positive", required=True)],
          lambda radius: disk_kernel(radius),
          "normalised disc of radius R (pixels within R of the centre)", "disk:3")
_register("motion", [Param("length", "positive", required=True),
                     Param("angle", "number", 0.0)],
          lambda length, angle=0.0: motion_kernel(length, angle),
          "motion blur: a line of L pixels at A degrees counter-clockwise",
          "motion:length=9,angle=30, motion:9")
_register("log", [Param("sigma", "positive", required=True), Param("radius", "int")],
          lambda sigma, radius=None: log_kernel(sigma, radius),
          "Laplacian of Gaussian (zero-sum, negative centre); radius defaults to 4 sigma",
          "log:2")
