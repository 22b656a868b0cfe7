"""The CLI's help lists every choice the library accepts, from the library's own lists.

The help is built from the numpy-free tables (engine/modes.py, the choices
modules of imaging, kernels and pipeline); this checks that it stays so.
"""

import re

import pytest
from typer.testing import CliRunner

from convtool import engine, imaging, kernels, pipeline
from convtool.cli import app


def option_help(command, flag):
    """The help of one option of ``command``: its line and the lines that continue it."""
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines)
                 if re.match(rf"\s+(-\w, )?{flag} [<\[]", line))
    rest = []
    for line in lines[first + 1:]:
        if not line.strip() or line.lstrip().startswith("-"):
            break
        rest.append(line)
    return " ".join(" ".join([lines[first], *rest]).split())


@pytest.mark.parametrize(("command", "flag", "choices"), [
    ("blur", "--mode", engine.MODES),
    ("blur", "--method", engine.METHODS),
    ("blur", "--alpha", imaging.ALPHA_MODES),
    ("convolve", "--normalize", kernels.NORMALIZE_CHOICES),
    ("edges", "--operator", pipeline.EDGE_OPERATORS),
])
def test_help_lists_every_library_choice(command, flag, choices):
    text = option_help(command, flag)
    for choice in choices:
        assert re.search(rf"\b{re.escape(choice)}\b", text), (flag, choice, text)


@pytest.mark.parametrize("operator", pipeline.EDGE_OPERATORS)
def test_every_edge_operator_runs_from_the_cli(samples, tmp_path, operator):
    result = CliRunner().invoke(app, ["edges", str(samples / "camera.png"),
                                      str(tmp_path / "e.png"), "--operator", operator])
    assert result.exit_code == 0, result.output
