"""The layering rule and the fast start, checked by importing each module in a fresh interpreter."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "convtool"

# module -> convtool modules (and heavy libraries) it must never load
FORBIDDEN = {
    "convtool.errors": {"numpy", "PIL", "typer", "rich", "convtool.engine", "convtool.kernels",
                        "convtool.imaging", "convtool.batch", "convtool.cli"},
    "convtool.engine": {"PIL", "typer", "rich", "convtool.kernels", "convtool.imaging",
                        "convtool.batch", "convtool.cli"},
    "convtool.engine.modes": {"numpy", "PIL", "typer", "rich", "convtool.kernels",
                              "convtool.imaging", "convtool.batch", "convtool.cli"},
    "convtool.kernels": {"PIL", "typer", "rich", "convtool.imaging", "convtool.batch",
                         "convtool.cli"},
    "convtool.imaging": {"typer", "rich", "convtool.batch", "convtool.cli"},
    "convtool.batch": {"typer", "rich", "convtool.cli"},
    "convtool.cli": {"numpy", "PIL", "rich", "convtool.engine", "convtool.kernels",
                     "convtool.imaging", "convtool.batch"},
    "convtool": {"numpy", "PIL", "typer", "rich"},
}


def loaded_modules(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_module_does_not_reach_up_or_load_heavy_libraries(module):
    loaded = loaded_modules(module)
    assert module in loaded
    assert not (FORBIDDEN[module] & loaded), sorted(FORBIDDEN[module] & loaded)


def test_no_test_oracle_is_imported_by_the_package():
    pattern = re.compile(r"^\s*(import|from)\s+(scipy|cv2|skimage)\b", re.MULTILINE)
    offenders = [p.name for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_help_does_not_import_numpy_or_pillow():
    code = ("import sys\nfrom convtool.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('numpy' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
