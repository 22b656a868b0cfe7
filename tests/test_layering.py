"""The layering rule and the fast start, checked by importing each module in a fresh interpreter.

The arrows: cli -> (pipeline, batch) -> (imaging, kernels, engine) -> errors.
batch runs pipeline jobs, so batch may import pipeline but not the reverse.
"""

import functools
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
    "convtool.engine.modes": {"numpy", "PIL", "convtool.kernels", "convtool.imaging",
                              "convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.kernels": {"PIL", "convtool.imaging", "convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.imaging": {"convtool.pipeline", "convtool.batch"} | CLI,
    "convtool.pipeline": {"convtool.batch", "convtool.scale"} | CLI,
    "convtool.batch": CLI | {"convtool.scale"},
    "convtool.scale": CLI | {"numpy", "PIL", "dask", "distributed", "tifffile", "zarr"},
    "convtool.cli": {"numpy", "PIL", "rich", "convtool.batch"},
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


@functools.cache
def at_interpreter_start() -> frozenset[str]:
    return frozenset(loaded_modules("sys"))


def submodules(package: str) -> list[str]:
    return [f"convtool.{package}.{p.stem}" for p in sorted((SRC / package).glob("*.py"))
            if p.stem != "__init__"]


_LIBRARY = ("convtool.errors", "convtool._lazy", "convtool.imaging", "convtool.kernels",
            "convtool.engine")
# package -> (convtool modules its submodules may load, libraries beyond the standard library)
LOWER_LAYERS = {
    "imaging": (("convtool.errors", "convtool._lazy", "convtool.imaging"), {"numpy", "PIL"}),
    "kernels": (("convtool.errors", "convtool._lazy", "convtool.kernels", "convtool.engine"),
                {"numpy"}),
    "pipeline": ((*_LIBRARY, "convtool.pipeline"), {"numpy", "PIL"}),
    "batch": ((*_LIBRARY, "convtool.pipeline", "convtool.batch"), {"numpy", "PIL"}),
    # Beside pipeline and batch: the Dask executor implements batch's Executor interface.
    # dask, tifffile and zarr (the optional extra) load only when a function needs them.
    "scale": ((*_LIBRARY, "convtool.pipeline", "convtool.batch", "convtool.scale"),
              {"numpy", "PIL"}),
}


def _allowed(module: str, prefixes) -> bool:
    return module == "convtool" or any(module == p or module.startswith(p + ".")
                                       for p in prefixes)


@pytest.mark.parametrize("module", [m for pkg in LOWER_LAYERS for m in submodules(pkg)])
def test_submodule_loads_only_errors_its_package_and_its_libraries(module):
    prefixes, libraries = LOWER_LAYERS[module.split(".")[1]]
    loaded = loaded_modules(module)
    assert module in loaded
    reached = sorted(m for m in loaded if m.startswith("convtool") and not _allowed(m, prefixes))
    assert reached == []
    at_start = {m.split(".")[0] for m in at_interpreter_start()}  # site hooks (.pth files)
    third_party = ({m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names)
                   - at_start - {"convtool"})
    assert third_party <= libraries, sorted(third_party - libraries)


def test_the_cli_loads_only_the_choice_tables_of_the_layers_below():
    # The help lists each closed set of choices from its library source; those
    # tables (and the lazy package fronts holding them) are all the CLI may load.
    below = {m for m in loaded_modules("convtool.cli")
             if m.startswith("convtool.") and not m.startswith("convtool.cli")}
    fronts = {"convtool.errors", "convtool._lazy", "convtool.engine", "convtool.imaging",
              "convtool.kernels", "convtool.pipeline"}
    assert below - fronts == {"convtool.engine.modes", "convtool.imaging.choices",
                              "convtool.kernels.choices", "convtool.pipeline.choices"}


# Tables of choices (for help text and shell completion) and the package fronts stay light.
LIGHT = ["convtool.imaging", "convtool.kernels", "convtool.imaging.choices",
         "convtool.imaging.model", "convtool.kernels.choices", "convtool.pipeline",
         "convtool.pipeline.choices", "convtool.cli.options",
         "convtool.cli.app"]


@pytest.mark.parametrize("module", LIGHT)
def test_package_fronts_and_choices_load_neither_numpy_nor_pillow(module):
    loaded = loaded_modules(module)
    assert module in loaded
    assert not {"numpy", "PIL"} & loaded


def library_sources():
    """Every source file but the CLI's (the cli/ package) and __main__.py."""
    return [p for p in sorted(SRC.rglob("*.py"))
            if p.name != "__main__.py" and "cli" not in p.relative_to(SRC).parts]


def test_only_the_cli_prints_exits_or_imports_rich():
    pattern = re.compile(r"\bprint\(|\bsys\.exit\(|(?<![.\w])exit\(|\bsys\.stderr\b"
                         r"|^\s*(import|from)\s+(rich|typer|click)\b", re.MULTILINE)
    offenders = [str(p.relative_to(SRC)) for p in library_sources()
                 if pattern.search(p.read_text())]
    assert offenders == []


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
