"""The ``fleet`` entry point: quick to start, every option explained, --version, -h, shell
completion, the language of the messages, errors as JSON, and the exit codes table of the docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from fleet.cli import exits
from fleet.cli.common import localize
from fleet.cli.main import COMMANDS, LazyGroup, build, main
from fleet.i18n import use_language
from tests.conftest import REPO

HEAVY = ("ansible", "ansible_runner", "pysnmp", "sqlalchemy", "alembic", "pydantic", "pyinfra",
         "netmiko", "paramiko", "yaml", "fleet.inventory", "fleet.store",
         "fleet.monitor", "fleet.deploy", "fleet.lab", "fleet.incidents")
PROBE = """\
import json, sys
from fleet.cli.main import main
code = main(sys.argv[1:]) if sys.argv[1:] else 0
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write(json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    return env | {"COLUMNS": "100"} | extra


def _probe(*argv: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
                          capture_output=True, text=True, env=_env(), timeout=120, check=False)
    result: dict[str, object] = json.loads(proc.stderr.strip().splitlines()[-1])
    return result


def test_fleet_help_imports_no_heavy_module() -> None:
    assert _probe() == {"code": 0, "heavy": []}  # import fleet.cli.main
    assert _probe("--help") == {"code": 0, "heavy": []}
    assert _probe("-h") == {"code": 0, "heavy": []}
    # the probe sees imports: a command's own help loads what that command needs
    loaded = _probe("inventory", "--help")
    assert loaded["code"] == 0 and {"pydantic", "fleet.inventory"} <= set(loaded["heavy"])  # type: ignore[arg-type]


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    from fleet import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fleet {__version__}\n"
    assert main(["incidents", "list", "-h"]) == 0
    assert "--site" in capsys.readouterr().out


def _tree(lang: str) -> list[typer.core.TyperCommand]:
    """Every command of fleet, built as the entry point builds them."""
    with use_language(lang):
        root = typer.main.get_command(build())
        localize(root)
        assert isinstance(root, LazyGroup)
        ctx = root.make_context("fleet", ["--help"], resilient_parsing=True)
        todo, out = [root.get_command(ctx, e.name) for e in COMMANDS], []
        while todo:
            cmd = todo.pop()
            out.append(cmd)
            todo += list(getattr(cmd, "commands", {}).values())
        return out


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_command_option_and_argument_has_help(lang: str) -> None:
    missing = []
    commands = _tree(lang)
    assert len(commands) > 30
    for cmd in commands:
        if not (cmd.help or "").strip():
            missing.append(f"{cmd.name}: no help")
        for param in cmd.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{cmd.name} {param.name}: no help")
    assert missing == []


def test_shell_completion_completes_commands_and_sub_commands() -> None:
    def complete(words: str, cword: int) -> list[str]:
        proc = subprocess.run([sys.executable, "-m", "fleet.cli.main"], capture_output=True, text=True,
                              env=_env(_FLEET_COMPLETE="complete_bash", COMP_WORDS=words,
                                       COMP_CWORD=str(cword)), timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert complete("fleet inc", 1) == ["incidents"]
    assert {"list", "show", "ack", "assign"} <= set(complete("fleet incidents ", 2))
    script = subprocess.run([sys.executable, "-m", "fleet.cli.main", "--show-completion", "bash"],
                            capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert script.returncode == 0 and "_FLEET_COMPLETE" in script.stdout


def test_messages_are_french_by_default_and_english_on_request(tmp_path: Path) -> None:
    def run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fleet.cli.main", *argv], capture_output=True,
                              text=True, env=_env(FLEET_STATE_DIR=str(tmp_path), **env), timeout=120,
                              check=False)

    c_locale = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    assert run("maintenance", "list", **c_locale).stderr.startswith("erreur : pas de base à ")
    english = {"LANG": "en_GB.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    assert run("maintenance", "list", **english).stderr.startswith("error: no store at ")
    assert run("--lang", "en", "maintenance", "list", **c_locale).stderr.startswith("error: ")
    assert run("maintenance", "list", "--lang=fr", FLEET_LANG="en").stderr.startswith("erreur : ")
    assert run("maintenance", "list", FLEET_LANG="fr", **english).stderr.startswith("erreur : ")
    bad = run("--lang", "de", "status")
    assert bad.returncode == 2 and "unknown language" in bad.stderr


def test_errors_are_json_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_INVENTORY", str(REPO / "inventory"))
    capsys.readouterr()
    assert main(["status", "florak", "--json"]) == 2
    out = capsys.readouterr()
    assert out.err == ""
    error = json.loads(out.out)["error"]
    assert error["code"] == 2 and "florak" in error["message"] and "did you mean" in error["message"]
    assert main(["incidents", "list", "--json", "--no-such-option"]) == 2  # a usage error too
    out = capsys.readouterr()
    assert out.err == "" and json.loads(out.out)["error"]["kind"] == "UsageError"
    assert main(["incidents", "list", "--no-such-option"]) == 2  # positive control: not JSON
    assert capsys.readouterr().err.startswith("error: ")


def test_the_docs_carry_the_exit_code_table() -> None:
    with use_language("en"):
        table = exits.table()
    for doc in ("docs/hotline.md", "docs/technician.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        assert table in text, f"{doc}: paste the output of python -m fleet.cli.exits"
    codes = {e.code.value for e in exits.EXIT_CODES}
    from fleet import errors

    declared = {c.exit_code for c in vars(errors).values()
                if isinstance(c, type) and issubclass(c, errors.FleetError)}
    assert declared <= codes
