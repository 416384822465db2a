"""docs/architecture.md says what the code is: its layer table names every package of fleet/
at the layer ``tests/test_layers.py`` enforces (LAYERS, imported: one source of truth), and
every ``fleet/...`` path it names exists.

The checker (:func:`problems`) runs on the real doc, and on temporary copies with a package
removed, a layer changed and a stale path, to show that it can fail."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_layers import FLEET, LAYERS, packages

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|")
PATH = re.compile(r"`(fleet/[A-Za-z0-9_./]+)`")


def layer_table(text: str) -> list[tuple[str, int]]:
    """The doc's ``| layer | packages | holds |`` table: (package, layer) in the doc's order."""
    out: list[tuple[str, int]] = []
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if re.match(r"^\|\s*layer\s*\|\s*packages\s*\|", ln))
    except StopIteration:
        return out
    for line in lines[start + 2:]:
        m = ROW.match(line)
        if m is None:
            break
        for name in re.findall(r"`([a-z_]+)`", m.group(2)):
            out.append((name, int(m.group(1))))
    return out


def problems(text: str, fleet: Path = FLEET, layers: dict[str, int] = LAYERS) -> list[str]:
    """What the doc gets wrong about the code, one line each (empty: it matches)."""
    out: list[str] = []
    pairs = layer_table(text)
    if not pairs:
        return ["no '| layer | packages | holds |' table"]
    names = [name for name, _ in pairs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"package {name} listed in more than one layer row")
    table = dict(pairs)  # a package listed twice: its last row
    for name in sorted(packages(fleet) - set(table)):
        out.append(f"package fleet/{name} missing from the layer table")
    for name in sorted(set(table) - packages(fleet)):
        out.append(f"package {name} in the layer table does not exist in fleet/")
    for name in sorted(set(table) & set(layers)):
        if table[name] != layers[name]:
            out.append(f"package {name}: layer {table[name]} in the doc, {layers[name]} in "
                       "tests/test_layers.py")
    for name in sorted(set(table) - set(layers)):
        if name in packages(fleet):
            out.append(f"package {name}: no layer in tests/test_layers.py")
    root = fleet.parent
    for rel in sorted(set(PATH.findall(text))):
        if not (root / rel.rstrip("/.")).exists():
            out.append(f"{rel} named in the doc does not exist")
    return out


def test_the_doc_matches_the_code() -> None:
    assert problems(DOC.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_missing_package_a_wrong_layer_and_a_stale_path(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "`handoff`" in text and "`fleet/cli/common.py`" in text  # what the copies change is there
    copy = tmp_path / "architecture.md"
    copy.write_text(text.replace("`remote`, `handoff`", "`remote`"), encoding="utf-8")
    assert problems(copy.read_text(encoding="utf-8")) == [
        "package fleet/handoff missing from the layer table"]
    moved = re.sub(r"^\| 6 \| `audit` \|", "| 5 | `audit` |", text, flags=re.MULTILINE)
    assert moved != text
    assert problems(moved) == ["package audit: layer 5 in the doc, 6 in tests/test_layers.py"]
    stale = text.replace("`fleet/cli/common.py`", "`fleet/cli/commons.py`")
    assert problems(stale) == ["fleet/cli/commons.py named in the doc does not exist"]
    twice = text.replace("| 7 | `web`, `cli` |", "| 7 | `web`, `cli`, `audit` |")
    assert problems(twice) == ["package audit listed in more than one layer row",
                               "package audit: layer 7 in the doc, 6 in tests/test_layers.py"]
