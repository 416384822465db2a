"""How the CLI is built: one module per command group, one helper that opens and closes the
store for a command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fleet.cli.common import opened_store

CLI = Path(__file__).resolve().parents[2] / "fleet" / "cli"


def _calls(path: Path, name: str) -> list[tuple[str, int]]:
    """(enclosing function, line) of every call to ``name`` in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            if isinstance(child, ast.Call):
                f = child.func
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if called == name:
                    found.append((func, child.lineno))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_every_command_opens_the_store_through_the_one_helper() -> None:
    direct = [
        f"fleet/cli/{p.name}:{line} ({func})"
        for p in sorted(CLI.glob("*.py"))
        for func, line in _calls(p, "open_store")
        if not (p.name == "common.py" and func == "opened_store")
    ]
    assert direct == []
    users = [p.name for p in CLI.glob("*.py") if _calls(p, "opened_store")]
    assert {"poll.py", "status.py", "incidents.py", "maintenance.py"} <= set(users)


def test_the_monitoring_commands_live_in_their_own_modules() -> None:
    assert not (CLI / "monitor.py").exists()
    for name, command in (("poll", "poll"), ("status", "status")):
        tree = ast.parse((CLI / f"{name}.py").read_text(encoding="utf-8"))
        assert command in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_the_helper_disposes_the_store_also_when_the_command_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), opened_store(f"sqlite:///{tmp_path}/s.sqlite", create=True) as store:
        pool = store.engine.pool
        with store.read() as session:
            session.connection()
        raise RuntimeError("the command failed")
    assert store.engine.pool is not pool, "dispose() replaces the engine's pool"
