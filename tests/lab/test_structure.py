"""How fleet/lab is built (no lab needed): one module per job, and the programs the lab runs
elsewhere are real modules, not Python kept in strings."""

from __future__ import annotations

import ast
from pathlib import Path

import fleet.lab
from fleet.lab.paths import LabPaths
from fleet.lab.plan import plan_site
from fleet.lab.programs import program
from fleet.lab.state import Lab
from fleet.lab.up import switch_argv
from tests.conftest import REPO

LAB = REPO / "fleet" / "lab"


def _code_in_strings(path: Path) -> list[str]:
    """String constants of a module that are themselves Python programs (they import)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            try:
                inner = ast.parse(node.value)
            except SyntaxError:
                continue
            if any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(inner)):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_program_is_kept_in_a_string() -> None:
    assert [hit for p in sorted(LAB.rglob("*.py")) for hit in _code_in_strings(p)] == []


def test_state_up_down_and_status_are_separate_modules() -> None:
    assert not (LAB / "site.py").exists()
    defined = {
        name: {n.name for n in ast.parse((LAB / f"{name}.py").read_text("utf-8")).body
               if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for name in ("state", "up", "down", "status")
    }
    assert {"Lab", "read_state", "write_state", "recorded_sites"} <= defined["state"]
    assert "up" in defined["up"] and "down" not in defined["up"]
    assert {"down", "down_all", "leftovers"} <= defined["down"]
    assert {"status", "exec_argv"} <= defined["status"]
    # the package still exports the verbs from their modules
    assert {fleet.lab.up.__module__, fleet.lab.down.__module__, fleet.lab.status.__module__} == {
        "fleet.lab.up", "fleet.lab.down", "fleet.lab.status"}


def test_the_switch_simulator_runs_its_module_by_path_in_isolated_mode(tmp_path: Path) -> None:
    from fleet.inventory import load_inventory

    site = load_inventory(REPO / "inventory").site("florac-fs")
    node = next(n for n in plan_site(site).nodes if n.name == "florac-fs-sw1")
    argv = switch_argv(Lab(LabPaths(tmp_path), tmp_path), node)
    assert argv[:4] == ["ip", "netns", "exec", node.netns]
    assert argv[5:7] == ["-I", str(program("fake_switch"))]
    assert argv[7:] == [node.name, str(node.ip)]
    assert program("fake_switch").is_file() and program("fakenet_http").is_file()
    # the programs run outside fleet: they must not import it
    for name in ("fake_switch", "fakenet_http"):
        tree = ast.parse(program(name).read_text("utf-8"))
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "fleet" for m in modules), name
