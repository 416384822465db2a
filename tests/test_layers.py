"""fleet/ is layered (DESIGN.md): a package imports only from layers below it."""

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
COMMON = {"errors", "settings", "__init__"}
#: The one import between faces: `fleet web` (fleet/cli/web.py) is the CLI command that serves
#: the dashboard, so it builds the web application.
FACES = {("cli", "web")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in FLEET.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_packages_import_only_from_lower_layers() -> None:
    bad: list[str] = []
    for path in FLEET.rglob("*.py"):
        rel = path.relative_to(FLEET)
        if len(rel.parts) < 2:
            continue  # fleet/errors.py, fleet/settings.py: common to all
        own = rel.parts[0]
        for mod in _imports(path):
            parts = mod.split(".")
            if parts[0] != "fleet" or len(parts) < 2 or parts[1] in COMMON:
                continue
            other = parts[1]
            if other == own:
                continue
            if (own, other) in FACES and rel.as_posix() == "cli/web.py":
                continue
            if other not in LAYERS or LAYERS[other] >= LAYERS[own]:
                bad.append(f"fleet/{rel} imports {mod} (layer {LAYERS.get(other)} >= {LAYERS[own]})")
    assert not bad, "\n".join(bad)


def test_the_layer_check_catches_a_violation(tmp_path: Path) -> None:
    # the check above must be able to fail: an inventory module importing the store
    bad = tmp_path / "x.py"
    bad.write_text("from fleet.store import open_store\n")
    assert "fleet.store" in _imports(bad)
    assert LAYERS["store"] >= LAYERS["inventory"]
