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
