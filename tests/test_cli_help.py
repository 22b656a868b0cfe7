"""Help and discovery as a newcomer meets them (issue 13): grouped, with choices and examples."""

import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from convtool.cli import app

FILTERS = ["blur", "mean", "convolve", "sharpen", "edges"]
GROUPS = ["Filter", "Kernel", "Image and output", "Batch", "Engine"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.join(os.path.dirname(os.path.dirname(__file__)), "src"),
     os.environ.get("PYTHONPATH", "")])}


def help_text(*args, columns=100):
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(columns),
                                                             "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


def section_titles(text):
    """Titles of the option sections: a line that is a word or two and a colon, or a box."""
    plain = re.findall(r"^([A-Z][\w ]+):\s*$", text, re.MULTILINE)
    boxed = re.findall(r"^\W*[╭+-]─* ([A-Z][\w ]+) ─", text, re.MULTILINE)
    return plain + boxed


@pytest.mark.parametrize("command", FILTERS)
def test_filter_help_is_grouped_into_named_sections(command):
    titles = section_titles(help_text(command))
    for group in GROUPS:
        if group == "Kernel" and command in ("blur", "mean"):
            continue
        assert group in titles, (group, titles)
    # Sections come in the order a newcomer needs them.
    order = [t for t in titles if t in GROUPS]
    assert order == sorted(order, key=GROUPS.index)


@pytest.mark.parametrize("command", FILTERS)
def test_choice_options_show_their_values(command):
    text = help_text(command, columns=200)
    assert "[reflect|mirror|nearest|wrap|constant]" in text
    assert "[auto|direct|fft]" in text
    assert "[premultiply|separate|ignore]" in text
    assert "<str>" not in text and "TEXT" not in text.split("--mode")[1].split("\n")[0]


def test_edges_operator_and_normalize_choices_are_listed():
    text = help_text("edges", columns=200)
    assert "[sobel|scharr|prewitt|laplacian|log]" in text
    assert "[auto|sum|none]" in text


def terminal_help(command, columns):
    """Help as a terminal ``columns`` wide shows it (CliRunner pins the width to 80)."""
    out = subprocess.run([sys.executable, "-m", "convtool", command, "--help"], check=True,
                         capture_output=True, text=True, env={**ENV, "COLUMNS": str(columns)})
    return out.stdout


def test_help_width_follows_the_terminal():
    wide = terminal_help("convolve", 160)
    narrow = terminal_help("convolve", 60)
    assert max(map(len, wide.splitlines())) > 100
    # Example command lines are kept whole, to be copied; everything else wraps.
    prose = [line for line in narrow.splitlines() if line.strip() not in examples(narrow)]
    assert max(map(len, prose)) <= 60
    assert len(wide.splitlines()) < len(narrow.splitlines())


@pytest.mark.parametrize("command", ["blur", "mean"])
def test_blur_and_mean_do_not_offer_meaningless_kernel_options(command):
    text = help_text(command)
    for option in ("--normalize", "--correlate", "--abs", "--scale", "--bias"):
        assert option not in text, option
    # ... and refuse them as unknown options.
    result = CliRunner().invoke(app, [command, "a.png", "b.png", "--normalize", "sum"])
    assert result.exit_code == 2
    assert "--normalize" in result.stderr


def examples(text):
    """The command lines of the help's Examples block."""
    block = text.partition("Examples:")[2]
    return [line.strip() for line in block.splitlines()
            if line.strip().startswith("convtool ") or "| convtool " in line]


@pytest.mark.parametrize("command", FILTERS)
def test_each_filter_command_has_examples_with_a_batch_run_and_a_pipe(command):
    shown = examples(help_text(command))
    assert 2 <= len(shown) <= 4, shown
    assert all(f"convtool {command} " in line for line in shown), shown
    assert any("--out-dir" in line for line in shown), shown
    assert any(f"convtool {command} - " in line for line in shown), shown


@pytest.mark.parametrize("args", [(), ("kernels",), ("kernel", "show")])
def test_top_level_and_kernel_commands_have_examples(args):
    shown = examples(help_text(*args))
    assert len(shown) >= (3 if not args else 1), shown


def test_every_option_of_every_command_has_help_text():
    import typer.main

    group = typer.main.get_command(app)
    seen = []

    def walk(command, path):
        for param in command.params:
            if getattr(param, "hidden", False) or param.name in ("help",):
                continue
            if param.param_type_name == "option":
                assert param.help, f"{path} {param.opts[0]} has no help text"
                seen.append(param)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(group, "convtool")
    assert len(seen) > 40


def _cpu_seconds(args):
    """CPU time (user + system) of ``python -m convtool ARGS``: steadier than wall time
    on a shared machine, where other jobs stretch the wall clock but not our CPU time."""
    proc = subprocess.Popen([sys.executable, "-m", "convtool", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("args", [["--help"], ["blur", "--help"], ["convolve", "--help"]])
def test_help_is_fast_and_imports_neither_numpy_nor_pillow(args):
    # The least of five runs: a busy shared machine only ever makes a run slower.
    assert min(_cpu_seconds(args) for _ in range(5)) <= 0.25
    code = ("import sys\nfrom convtool.cli import app\n"
            f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted({'numpy', 'PIL'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=ENV)
    assert out.stdout.strip().splitlines()[-1] == "[]"



def test_a_small_file_filter_imports_only_what_it_uses(tmp_path):
    # The path of a PNG blurred to a PNG: the tiles' modules are for budgets and TIFFs,
    # and secrets (hashlib, OpenSSL) cost ~4 ms of every start for random temp names.
    src = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (16, 12), (10, 200, 30)).save(src)
    code = ("import sys\nfrom convtool.cli import app\n"
            f"try:\n    app(['blur', {str(src)!r}, {str(tmp_path / 'out.png')!r}, '-s', '1'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'secrets' or m.startswith("
            "('convtool.scale.tiles', 'convtool.scale.outofcore', 'convtool.scale.lazy_read'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=ENV)
    assert (tmp_path / "out.png").exists()
    assert out.stdout.strip().splitlines()[-1] == "[]"
