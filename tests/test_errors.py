"""Every error class of the engine lives in fleet/errors.py (one tree, one place to read it)."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

FLEET = Path(__file__).resolve().parents[1] / "fleet"
EXCEPTIONS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _error_classes(tree: ast.AST) -> set[str]:
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}


DECLARED = _error_classes(ast.parse((FLEET / "errors.py").read_text("utf-8")))


def _base_name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _is_error(cls: ast.ClassDef) -> bool:
    return any(
        b in EXCEPTIONS or b in DECLARED or b.endswith(("Error", "Exception"))
        for b in map(_base_name, cls.bases)
    )


def _gateway_fallbacks(tree: ast.AST) -> set[int]:
    """Classes defined under ``except ImportError`` when errors.py has the same name: the
    stdlib-only fallback of a program shipped to a device (see fleet/errors.py)."""
    ok: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                if isinstance(handler.type, ast.Name) and handler.type.id == "ImportError":
                    ok |= {id(c) for c in handler.body if isinstance(c, ast.ClassDef) and c.name in DECLARED}
    return ok


def misplaced(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "errors.py" and path.parent == root:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        allowed = _gateway_fallbacks(tree)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if _is_error(cls) and id(cls) not in allowed:
                out.append(f"{path.relative_to(root.parent)}:{cls.lineno}: class {cls.name}")
    return out


def test_every_error_class_is_declared_in_fleet_errors() -> None:
    assert misplaced(FLEET) == []


def test_the_check_finds_an_error_class_elsewhere(tmp_path: Path) -> None:
    pkg = tmp_path / "fleet"
    (pkg / "x").mkdir(parents=True)
    (pkg / "errors.py").write_text("class FleetError(Exception): ...\n")
    (pkg / "x" / "a.py").write_text(
        "class Oops(ValueError): ...\n"
        "try:\n    from fleet.errors import FleetError\nexcept ImportError:\n"
        "    class FleetError(ValueError): ...\n"
    )
    assert misplaced(pkg) == ["fleet/x/a.py:1: class Oops"]


def test_the_tree_keeps_its_built_in_mixins() -> None:
    from fleet import errors

    assert issubclass(errors.IncidentError, ValueError) and errors.IncidentError.exit_code == 2
    assert issubclass(errors.NotRootError, PermissionError)
    assert issubclass(errors.NotRootError, errors.LabError)
    assert issubclass(errors.ListError, errors.ConfigError) and issubclass(errors.BerError, ValueError)
    for name in DECLARED - {"Problem"}:
        assert issubclass(getattr(errors, name), errors.FleetError), name
