"""The README's first screen and its Python examples stay true (issue 13)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def quick_start():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return block.strip().splitlines()


def test_quick_start_makes_a_virtual_environment_first_and_mentions_pipx():
    install, _ = quick_start()
    # An externally managed Python (Debian 12, Ubuntu, Homebrew) refuses a bare `pip install .`.
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install .")
    assert "convtool blur" in install
    assert "pipx install" in README.split("## Commands")[0]


def test_ci_runs_the_readme_test_command_verbatim():
    _, test_command = quick_start()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_two_path_overwrite_rule_is_on_the_first_screen():
    first_screen = README.split("## Commands")[0]
    assert "--overwrite" in first_screen and "INPUT OUTPUT" in first_screen


def test_python_api_example_round_trips_to_a_file(tmp_path):
    (block,) = [b for b in code_blocks("python") if "from convtool import convolve" in b]
    assert "write_image" in block
    shutil.copytree(ROOT / "sample_images", tmp_path / "sample_images")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", block], cwd=tmp_path, check=True, env=env, timeout=120)
    from PIL import Image

    with Image.open(tmp_path / "camera-blurred.png") as out, \
            Image.open(ROOT / "sample_images" / "camera.png") as src:
        assert (out.mode, out.size) == (src.mode, src.size)


def test_batch_example_shows_the_main_guard_and_every_report_field():
    (block,) = [b for b in code_blocks("python") if "run_batch(" in b]
    assert 'if __name__ == "__main__":' in block
    section = README.split("## Batch runs", 1)[1].split("\n## ", 1)[0]
    for field in ("results", "seconds", "interrupted", "count(status)", "failed"):
        assert f"| `{field}` |" in section, field
    for field in ("source", "status", "error", "shape", "method"):
        assert f"`{field}`" in section, field
