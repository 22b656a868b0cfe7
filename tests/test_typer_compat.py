"""Fails loudly when typer changes what cli/_typer_compat.py relies on."""

import typer

from convtool.cli import _typer_compat


def test_click_exceptions_are_the_ones_typer_raises():
    # A usage error raised by typer's own parser must be caught by our handler.
    from typer.testing import CliRunner

    assert issubclass(_typer_compat.ClickException, Exception)
    app = typer.Typer()

    @app.command()
    def one(n: int) -> None:
        """A command."""

    command = typer.main.get_command(app)
    try:
        command.main(["not-a-number"], standalone_mode=False)
    except _typer_compat.ClickException as e:
        assert e.exit_code == 2
    else:  # pragma: no cover - the failure this test exists for
        raise AssertionError("typer no longer raises the click exceptions we catch")
    assert CliRunner().invoke(app, ["3"]).exit_code == 0


def test_no_args_is_help_error_exists_in_this_typer():
    # Older click had none (then the compat module gives an empty tuple); the typer
    # we install must have it, or `convtool` with no arguments prints a traceback.
    assert isinstance(_typer_compat.NoArgsIsHelpError, type)
    assert issubclass(_typer_compat.NoArgsIsHelpError, _typer_compat.click_exceptions.UsageError)


def test_typer_still_has_the_runtime_param_cache_we_fill():
    # If typer renames these, plain options silently go back to pydantic (slow start).
    from typer._coercion import RuntimeParam
    from typer.core import _TyperParameter

    assert _typer_compat._RuntimeParam is RuntimeParam
    assert _TyperParameter.get_runtime_param  # reads self._runtime_param, builds if None
    app = typer.Typer()

    @app.command()
    def one(n: int, x: float = 1.0, names: list[str] | None = None, flag: bool = False) -> None:
        """A command."""

    command = typer.main.get_command(app)
    params = [p for p in command.params if p.name in ("n", "x", "names")]
    for p in params:
        assert p._runtime_param is None
    _typer_compat.plain_coercion(params)
    assert all(isinstance(p._runtime_param, _typer_compat._PlainRuntimeParam) for p in params)
    n, x, names = params
    assert n.get_runtime_param().coerce("3", param=n, ctx=None) == 3
    assert x.get_runtime_param().coerce("2.5", param=x, ctx=None) == 2.5
    assert names.get_runtime_param().coerce(("a", "b"), param=names, ctx=None) == ["a", "b"]
    for bad, p in (("2.5", n), ("abc", x)):
        try:
            p.get_runtime_param().coerce(bad, param=p, ctx=None)
        except _typer_compat.click_exceptions.BadParameter as e:
            assert repr(bad) in e.format_message()
        else:  # pragma: no cover
            raise AssertionError(f"{bad!r} was accepted")


def test_a_filter_command_does_not_import_pydantic(tmp_path, samples):
    import subprocess
    import sys

    code = ("import sys; from convtool.cli.app import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('pydantic' in sys.modules)")
    out = subprocess.run(
        [sys.executable, "-c", code, "blur", str(samples / "camera.png"),
         str(tmp_path / "o.png"), "--sigma", "2", "--mode", "nearest"],
        capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert (tmp_path / "o.png").exists()


def test_only_command_builds_just_the_one_that_runs():
    """typer keeps its commands in registered_commands/registered_groups (undocumented)."""
    from convtool.cli import app

    for attr in ("registered_commands", "registered_groups"):
        assert isinstance(getattr(app, attr, None), list), f"typer has no Typer.{attr} list"
    full = typer.main.get_command(app)
    assert {"blur", "mean", "convolve", "kernel", "kernels"} <= set(full.commands)
    for name in ("blur", "kernel", "completion"):
        lean = _typer_compat.only_command(app, name)
        assert lean is not None, f"typer changed how commands are registered ({name})"
        assert list(typer.main.get_command(lean).commands) == [name]
    assert _typer_compat.only_command(app, "blurr") is None
    assert list(typer.main.get_command(app).commands) == list(full.commands)  # app untouched


def test_a_lean_app_says_what_the_whole_one_says():
    from typer.testing import CliRunner

    from convtool.cli import app

    lean = _typer_compat.only_command(app, "blur")
    for args in (["blur", "--help"], ["blur"], ["blur", "a.png", "b.png", "--sigma", "x"]):
        whole, one = CliRunner().invoke(app, args), CliRunner().invoke(lean, args)
        assert (one.exit_code, one.output) == (whole.exit_code, whole.output), args


def test_main_builds_the_invoked_command_only(monkeypatch):
    import importlib

    app_module = importlib.import_module("convtool.cli.app")  # convtool.cli.app is the Typer

    def commands(args):
        return list(typer.main.get_command(app_module._app_for(args)).commands)

    assert commands(["blur", "in.png", "out.png"]) == ["blur"]
    assert commands(["--debug", "kernel", "show", "box:3"]) == ["kernel"]
    for args in (["--version"], [], ["blurr"], ["--", "blur"]):
        assert app_module._app_for(args) is app_module.app, args
    monkeypatch.setenv(_typer_compat.complete_var("convtool"), "bash_complete")
    assert app_module._app_for(["blur"]) is app_module.app  # completion sees every command
