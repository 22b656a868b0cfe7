"""The convolution engine: N-D convolution of real arrays with boundary modes.

numpy only, and it knows nothing of images: an image is an array whose leading
axes are filtered by the kernel and whose trailing axes (colour channels) are
filtered independently.

Modules, one job each:

``modes``     the table of boundary modes and method names, one index rule per mode
              (importable without numpy: the CLI's help reads it)
``analysis``  kernel analysis (factors, rank, symmetry, box), once per kernel
``planner``   the cost model and its constants, :class:`Plan`, :func:`plan`, :func:`choose_method`
``direct``    sums of shifted copies (``box``: running sums for box kernels)
``fft``       1-D transforms per axis for separable kernels, 2-D transforms otherwise
``_bands``    bands of rows and the threads that share them

Attributes are imported lazily, so ``import convtool.engine`` loads no numpy.
"""

from __future__ import annotations

_EXPORTS = {
    "convolve": "convtool.engine._convolve",
    "plan": "convtool.engine.planner",
    "Plan": "convtool.engine.planner",
    "choose_method": "convtool.engine.planner",
    "next_fast_len": "convtool.engine.planner",
    "separable_factors": "convtool.engine.analysis",
    "SEPARABLE_RTOL": "convtool.engine.analysis",
    "SEPARABLE_RTOL_FLOAT64": "convtool.engine.analysis",
    "MODES": "convtool.engine.modes",
    "MODE_ALIASES": "convtool.engine.modes",
    "MODE_TABLE": "convtool.engine.modes",
    "METHODS": "convtool.engine.modes",
    "Mode": "convtool.engine.modes",
    "Method": "convtool.engine.modes",
    "normalize_mode": "convtool.engine.modes",
    "normalize_method": "convtool.engine.modes",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'convtool.engine' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__():
    return __all__
