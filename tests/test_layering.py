"""The layering rule and the fast start, checked by importing each module in a fresh interpreter.

The arrows: cli -> (pipeline, batch) -> (imaging, kernels, engine) -> errors.
batch runs pipeline jobs, so batch may import pipeline but not the reverse.
"""

import ast
import json
import pathlib
import re
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "convtool"

CLI = {"typer", "rich", "convtool.cli"}
# module -> convtool modules (and heavy libraries) it must never load
FORBIDDEN = {
    "convtool.errors": {"numpy", "PIL", "convtool.engine", "convtool.kernels",
                        "convtool.imaging", "convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.engine": {"PIL", "convtool.kernels", "convtool.imaging", "convtool.pipeline",
                        "convtool.batch"} | CLI,
    "convtool.kernels": {"PIL", "convtool.imaging", "convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.imaging": {"convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.pipeline": {"convtool.batch"} | CLI,
    "convtool.batch": CLI,
    "convtool.batch.executor": CLI,
    "convtool.batch.local": CLI,
    "convtool.cli": {"numpy", "PIL", "rich", "convtool.engine", "convtool.kernels",
                     "convtool.imaging", "convtool.pipeline", "convtool.batch"},
    "convtool": {"numpy", "PIL", "typer", "rich"},
}

# What the engine may load: numpy, the standard library, itself and errors.
ENGINE_ALLOWED_THIRD_PARTY = {"numpy"}


def loaded_modules(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_module_does_not_reach_up_or_load_heavy_libraries(module):
    loaded = loaded_modules(module)
    assert module in loaded
    assert not (FORBIDDEN[module] & loaded), sorted(FORBIDDEN[module] & loaded)


def test_engine_imports_only_numpy():
    before = loaded_modules("sys")
    loaded = loaded_modules("convtool.engine") - before
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names)
    assert third_party - {"convtool", "_distutils_hack"} <= ENGINE_ALLOWED_THIRD_PARTY
    assert {m for m in loaded if m.startswith("convtool.")} <= {
        m for m in loaded if m.startswith(("convtool.engine", "convtool.errors"))}


def _sources():
    return sorted(SRC.rglob("*.py"))


def test_no_test_oracle_is_imported_by_the_package():
    pattern = re.compile(r"^\s*(import|from)\s+(scipy|cv2|skimage)\b", re.MULTILINE)
    offenders = [p.name for p in _sources() if pattern.search(p.read_text())]
    assert offenders == []


def _calls_and_imports(path: pathlib.Path) -> set[str]:
    """Names of the print/exit calls and the rich/typer imports in a source file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            owner = getattr(getattr(func, "value", None), "id", "")
            if name == "print" or (owner == "sys" and name == "exit") or name == "exit":
                found.add(f"{owner + '.' if owner else ''}{name}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                a.name for a in node.names]
            found.update(n for n in names if n.split(".")[0] in ("rich", "typer", "click"))
    return found


def test_only_the_cli_prints_exits_or_imports_rich():
    offenders = {str(p.relative_to(SRC)): sorted(_calls_and_imports(p)) for p in _sources()
                 if "cli" not in p.relative_to(SRC).parts and p.name != "__main__.py"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_help_does_not_import_numpy_or_pillow():
    code = ("import sys\nfrom convtool.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('numpy' in sys.modules, 'PIL' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
