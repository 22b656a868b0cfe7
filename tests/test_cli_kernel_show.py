"""`convtool kernel show` without a colour terminal prints numbers (issue 13)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from convtool.cli import app


def show(*args, env=None):
    result = CliRunner().invoke(app, ["kernel", "show", *map(str, args)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def numbers(text):
    """Every number on the lines before the 'name:' line (the value block)."""
    block = text.split("name:")[0]
    return [float(w) for w in block.split() if _is_number(w)]


def _is_number(word):
    try:
        float(word)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("env", [None, {"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_gaussian_2_prints_its_values_when_shading_cannot_be_seen(env):
    text = show("gaussian:2", env=env)
    values = numbers(text)
    assert len(values) == 17 * 17  # 17x17: every value, not a block of spaces
    assert max(values) == pytest.approx(0.0398, abs=5e-4)
    rows = [line for line in text.split("name:")[0].splitlines() if line.strip()]
    assert len(rows) == 17


def test_a_kernel_too_big_to_print_says_so_and_offers_values_and_npy():
    text = show("gaussian:20")  # 161x161
    assert "161x161" in text
    assert "--values" in text and "--npy" in text
    assert len(numbers(text)) < 1000


def test_values_prints_every_value_of_a_big_kernel():
    text = show("mean:40x2", "--values")
    assert numbers(text) == pytest.approx([1 / 80] * 80, rel=1e-3)


def test_npy_saves_the_kernel_exactly(tmp_path):
    path = tmp_path / "k.npy"
    show("gaussian:3x1", "--npy", path)
    from convtool.kernels import parse_kernel

    assert np.array_equal(np.load(path), parse_kernel("gaussian:3x1").array)


def test_npy_to_an_unwritable_place_is_one_error(tmp_path):
    result = CliRunner().invoke(app, ["kernel", "show", "sobel-x", "--npy",
                                      str(tmp_path / "no" / "such" / "k.npy")])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("convtool: error:")


def test_a_big_separable_kernel_shows_the_ends_of_its_factors_and_values_shows_all():
    factor_lines = [line for line in show("gaussian:20").splitlines()
                    if line.strip().startswith(("column:", "row:"))]
    assert len(factor_lines) == 2
    for line in factor_lines:
        assert "(139 more)" in line  # 161 values: 11 at each end, the rest counted
        assert len(line) < 300
    every = [line for line in show("gaussian:20", "--values").splitlines()
             if line.strip().startswith("column:")]
    assert len(every[0].split()) == 161 + 1
