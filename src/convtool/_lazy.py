"""Packages whose public names are imported on first use (PEP 562), to keep imports cheap."""

from __future__ import annotations

import importlib
import sys


def lazy_attributes(package: str, exports: dict[str, str], names: list[str]):
    """``__getattr__`` and ``__dir__`` for ``package``, importing ``exports[name]`` on first use.

    ``exports`` maps each public name to the module that defines it; ``names``
    is what ``dir()`` lists (the package's ``__all__``).
    """

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(sys.modules[package], name, value)  # looked up once
            return value
        msg = f"module {package!r} has no attribute {name!r}"
        raise AttributeError(msg)

    def __dir__():
        return names

    return __getattr__, __dir__
