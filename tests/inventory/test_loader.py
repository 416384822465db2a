"""fleet/inventory/loader.py keeps the layout and the checks across files: the shape of one
file is the models' business (fleet/inventory/files.py, variables.py), located by
fleet/inventory/validate.py — the one place a validation error gets its file:line."""

from __future__ import annotations

import ast
from pathlib import Path

LOADER = Path(__file__).resolve().parents[2] / "fleet" / "inventory" / "loader.py"

RECORDS_PROBLEMS = {
    "_Ctx.add": "the collector itself",
    "_Ctx.validate": "relays the models' problems (masking secrets)",
    "load_inventory": "no inventory directory, no site file: which files exist",
    "_load_group_vars": "a group_vars file named after no group: the directory layout",
    "_load_vault": "no vault file, a vault that does not decrypt: files, not their shape",
    "_build_device": "content_filter_*: the value a host gets across group_vars and site file",
    "_guest_account": "one guest account across group_vars, site file and the roles' defaults",
    "_check_network": "duplicate site ids, hostnames, addresses across site files",
    "_check_overlaps": "networks of different sites",
}
"""Every function of loader.py that builds a Problem itself, and why that is not a check of
one file's shape."""


def _recorders(tree: ast.Module) -> dict[str, list[int]]:
    """Each top-level function or method (``Class.method``) of the module → the lines where it
    builds a Problem or calls ``ctx.add`` (its nested functions included)."""
    functions: list[tuple[str, ast.AST]] = []
    for top in tree.body:
        if isinstance(top, ast.FunctionDef):
            functions.append((top.name, top))
        elif isinstance(top, ast.ClassDef):
            functions += [(f"{top.name}.{m.name}", m) for m in top.body
                          if isinstance(m, ast.FunctionDef)]
    found: dict[str, list[int]] = {}
    for name, fn in functions:
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            builds = isinstance(func, ast.Name) and func.id == "Problem"
            adds = (isinstance(func, ast.Attribute) and func.attr == "add"
                    and isinstance(func.value, ast.Name) and func.value.id == "ctx")
            if builds or adds:
                found.setdefault(name, []).append(node.lineno)
    return found


def test_the_loader_builds_no_problem_for_the_shape_of_one_file() -> None:
    tree = ast.parse(LOADER.read_text(encoding="utf-8"))
    recorders = _recorders(tree)
    assert recorders, "the scan found nothing: it is broken"  # control: the allowed ones
    assert {"_check_network", "_Ctx.validate"} <= set(recorders)
    extra = {f: lines for f, lines in recorders.items() if f not in RECORDS_PROBLEMS}
    assert not extra, (f"loader.py checks a file's shape by hand in {extra}: say it in the "
                       "models (fleet/inventory/files.py, variables.py)")


def test_no_shape_message_is_left_in_the_loader() -> None:
    text = LOADER.read_text(encoding="utf-8")
    for words in ("must be a mapping", "kind group must", "unexpected key", "start with vault_",
                  "in no kind group", "in two kind groups", "exactly one site group",
                  "only 'children'", "required secret missing", "empty site file"):
        assert words not in text, words
