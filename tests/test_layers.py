"""fleet/ is layered (DESIGN.md): a package imports only from layers below it.

The checker (:func:`violations`) runs on the real tree, and on a temporary tree with a known
violation to show that it can fail."""

from __future__ import annotations

import ast
from pathlib import Path

FLEET = Path(__file__).resolve().parents[1] / "fleet"
LAYERS = {
    "inventory": 0,
    "store": 1,
    "agenda": 1,
    "lab": 2,
    "checks": 2,
    "deploy": 3,
    "netdev": 3,
    "gateway": 3,
    "incidents": 3,
    "monitor": 4,
    "remote": 5,
    "handoff": 5,
    "audit": 6,
    "web": 7,
    "cli": 7,
}
COMMON = {"errors", "settings", "i18n", "words", "permissions", "sshproxy", "__init__"}
"""Modules directly under fleet/, usable from every layer (they import no package of fleet)."""
FACES = {("cli/web.py", "web")}
"""The one import between faces: `fleet web` (fleet/cli/web.py) is the CLI command that serves
the dashboard, so it builds the web application."""


def _imports(path: Path, root: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved), anywhere in
    the file (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = [root.name, *path.relative_to(root).parent.parts]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                out.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                out.add(node.module)
    return out


def packages(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def violations(root: Path, layers: dict[str, int] = LAYERS) -> list[str]:
    """Every import of fleet/ that goes sideways or up, as ``fleet/a/b.py imports x (why)``."""
    bad: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for mod in sorted(_imports(path, root)):
            parts = mod.split(".")
            if parts[0] != root.name or len(parts) < 2 or parts[1] == own:
                continue
            other = parts[1]
            if own in COMMON:
                if other not in COMMON:
                    bad.append(f"fleet/{rel} imports {mod} (common modules import no package)")
                continue
            if other in COMMON or (rel.as_posix(), other) in FACES:
                continue
            if other not in layers or own not in layers or layers[other] >= layers[own]:
                bad.append(f"fleet/{rel} imports {mod} (layer {layers.get(other)} >= {layers.get(own)})")
    return bad


def test_every_package_has_a_layer() -> None:
    assert packages(FLEET) <= set(LAYERS), packages(FLEET) - set(LAYERS)


def test_packages_import_only_from_lower_layers() -> None:
    assert violations(FLEET) == []


def test_the_layer_check_catches_a_violation(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    for pkg in ("inventory", "store", "cli"):
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
    (root / "errors.py").write_text("")
    (root / "store" / "db.py").write_text("from fleet.inventory import load\nfrom fleet.errors import E\n")
    (root / "cli" / "main.py").write_text("def f():\n    from fleet.store import db\n")
    assert violations(root) == []  # downward, and lazy, imports are fine
    (root / "inventory" / "x.py").write_text("def f():\n    from fleet.store import open_store\n")
    (root / "inventory" / "y.py").write_text("from ..cli import main\n")
    (root / "errors.py").write_text("import fleet.store\n")
    assert violations(root) == [
        "fleet/errors.py imports fleet.store (common modules import no package)",
        "fleet/inventory/x.py imports fleet.store (layer 1 >= 0)",
        "fleet/inventory/y.py imports fleet.cli (layer 7 >= 0)",
    ]
