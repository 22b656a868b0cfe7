"""Shell completion (issue 13): scripts for bash, zsh and fish that complete names lazily."""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


@pytest.fixture
def convtool_on_path(tmp_path):
    """A ``convtool`` command on PATH that runs this source tree, as an installed one would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "convtool"
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{SRC}" exec "{sys.executable}" -m convtool "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": SRC}


def convtool(env, *args, **extra):
    return subprocess.run(["convtool", *args], env={**env, **extra}, capture_output=True,
                          text=True, timeout=60)


def script_for(env, shell):
    result = convtool(env, "completion", shell)
    assert result.returncode == 0, result.stderr
    return result.stdout


def complete_in_bash(env, words):
    """What bash's completion function, sourced from ``convtool completion bash``, offers."""
    script = script_for(env, "bash")
    (function,) = re.findall(r"complete .*-F (\S+) convtool", script)
    words_text = " ".join(f"'{w}'" for w in words)
    code = textwrap.dedent(f"""\
        {script}
        COMP_WORDS=({words_text})
        COMP_CWORD={len(words) - 1}
        {function} convtool
        printf '%s\\n' "${{COMPREPLY[@]}}"
        """)
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_generated_bash_script_completes_a_kernel_name(convtool_on_path):
    offered = complete_in_bash(convtool_on_path,
                               ["convtool", "convolve", "a.png", "b.png", "--kernel", "gau"])
    assert offered and all(o.startswith("gaussian") for o in offered), offered


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("words", "expected"), [
    (["convtool", "bl"], {"blur"}),
    (["convtool", "blur", "a.png", "b.png", "--mode", "wr"], {"wrap"}),
    (["convtool", "edges", "a.png", "b.png", "--operator", "s"], {"sobel", "scharr"}),
    (["convtool", "convolve", "a", "b", "--normalize", ""], {"auto", "sum", "none"}),
    (["convtool", "blur", "a", "b", "--alpha", "p"], {"premultiply"}),
    (["convtool", "kernel", "show", "sobel-"], {"sobel-x", "sobel-y"}),
    (["convtool", "blur", "a", "b", "--me"], {"--method"}),
    (["convtool", "blur", "a", "b.tif", "--compression", "l"], {"lzw", "lzma"}),
    (["convtool", "mean", "-", "-", "--format", "j"], {"jpeg", "jpeg2000"}),
])
def test_bash_completes_commands_options_and_choices(convtool_on_path, words, expected):
    offered = complete_in_bash(convtool_on_path, words)
    assert expected <= {o.rstrip(":") for o in offered}, offered


def complete_directly(env, shell, line):
    """The completion callback as the zsh and fish scripts call it."""
    extra = {"_CONVTOOL_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": line}
    if shell == "fish":
        extra["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = convtool(env, **extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_call_back_and_complete_kernel_names(convtool_on_path, shell):
    script = script_for(convtool_on_path, shell)
    assert "_CONVTOOL_COMPLETE=complete_" + shell in script
    assert "convtool" in script
    offered = complete_directly(convtool_on_path, shell, "convtool convolve a b --kernel lap")
    assert "laplacian" in offered


def test_an_unknown_shell_is_a_usage_error(convtool_on_path):
    result = convtool(convtool_on_path, "completion", "tcsh")
    assert result.returncode == 2
    assert result.stderr.startswith("convtool: error:") and "bash" in result.stderr


def test_completing_loads_neither_numpy_nor_pillow(tmp_path):
    # Completion runs on every Tab: it must stay as light as --help.
    code = textwrap.dedent("""\
        import os, sys
        os.environ.update(_CONVTOOL_COMPLETE="complete_bash", COMP_CWORD="5",
                          COMP_WORDS="convtool convolve a b --kernel ")
        from convtool.cli import main
        try:
            main()
        except SystemExit:
            pass
        print(sorted({"numpy", "PIL"} & set(sys.modules)), file=sys.stderr)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert "gaussian" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == "[]"


def test_install_completion_writes_into_the_users_shell_setup(convtool_on_path, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = convtool(convtool_on_path, "completion", "bash", "--install",
                      HOME=str(home))
    assert result.returncode == 0, result.stderr
    written = "".join(p.read_text() for p in home.rglob("*") if p.is_file())
    assert "_CONVTOOL_COMPLETE=complete_bash" in written
