"""The CLI error boundary: exit codes and one-line messages, whatever the command raises."""

from __future__ import annotations

import typer

from fleet.cli.common import run_app
from fleet.errors import ConfigError


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def exit3() -> None:
        raise typer.Exit(3)

    @app.command()
    def bad() -> None:
        raise ConfigError("--foo 'x': not a foo")

    @app.command()
    def ok() -> None:
        pass

    return app


def test_exit_code_of_typer_exit_is_kept() -> None:
    assert run_app(_app(), ["exit3"]) == 3


def test_fleet_error_is_one_line_and_its_code(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_app(_app(), ["bad"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: --foo 'x': not a foo"]


def test_usage_error_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_app(_app(), ["nope"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_success_is_zero() -> None:
    assert run_app(_app(), ["ok"]) == 0


def test_with_json_an_error_is_one_json_document_on_stdout(capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    assert run_app(_app(), ["bad"], as_json=True) == 2
    out = capsys.readouterr()
    assert out.err == ""
    assert json.loads(out.out) == {"error": {"code": 2, "kind": "ConfigError",
                                             "message": "--foo 'x': not a foo"}}
    assert run_app(_app(), ["nope"], as_json=True) == 2
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "UsageError"
