"""Rules of fleet/ a reader relies on (STYLE.md), checked on the code itself:

- no module-level mutable state: module constants are tuples, frozensets, read-only mappings
  (``MappingProxyType``); no ``global``, no module-level caches (``functools.cache``);
- a broad ``except Exception`` / ``except BaseException`` only at a third-party boundary, with
  a comment on the line saying which, or to clean up and re-raise.

The whole of ``fleet/`` is checked; ``NOT_YET`` names a sub-package left out (none today).
"""

from __future__ import annotations

import ast
from pathlib import Path

FLEET = Path(__file__).resolve().parents[1] / "fleet"
NOT_YET: tuple[str, ...] = ()

MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
MUTABLE_NODES = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
CACHES = {"cache", "lru_cache"}


def _files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*.py"))
            if not (len(p.relative_to(root).parts) > 1 and p.relative_to(root).parts[0] in NOT_YET)]


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def module_state(root: Path) -> list[str]:
    out = []
    for path in _files(root):
        tree = ast.parse(path.read_text("utf-8"))
        where = path.relative_to(root.parent)
        for node in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if value is None or names == ["__all__"]:
                continue
            if isinstance(value, MUTABLE_NODES) or (
                isinstance(value, ast.Call) and _name(value) in MUTABLE_CALLS
            ):
                out.append(f"{where}:{node.lineno}: module-level mutable {', '.join(names)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                out.append(f"{where}:{node.lineno}: global {', '.join(node.names)}")
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _name(d) in CACHES for d in node.decorator_list
            ):
                out.append(f"{where}:{node.lineno}: module-level cache on {node.name}")
    return out


def broad_excepts(root: Path) -> list[str]:
    out = []
    for path in _files(root):
        text = path.read_text("utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.ExceptHandler):
                continue
            caught = node.type
            names = [_name(e) for e in caught.elts] if isinstance(caught, ast.Tuple) else \
                [_name(caught)] if caught is not None else ["(bare)"]
            if not {"Exception", "BaseException", "(bare)"} & set(names):
                continue
            reraises = any(isinstance(s, ast.Raise) and s.exc is None for s in node.body)
            explained = "#" in lines[node.lineno - 1]
            if not (reraises or explained):
                out.append(f"{path.relative_to(root.parent)}:{node.lineno}: except {', '.join(names)}")
    return out


def test_no_module_level_mutable_state() -> None:
    assert module_state(FLEET) == []


def test_broad_excepts_only_at_explained_boundaries() -> None:
    assert broad_excepts(FLEET) == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    pkg = tmp_path / "fleet"
    (pkg / "x").mkdir(parents=True)
    (pkg / "x" / "a.py").write_text(
        "import functools\n"
        "CACHE = {}\n"
        "NAMES: list[str] = []\n"
        "OK = (1, 2)\n"
        "__all__ = ['OK']\n"
        "@functools.cache\n"
        "def f():\n"
        "    global OK\n"
        "    try:\n        pass\n    except Exception:\n        pass\n"
        "    try:\n        pass\n    except BaseException:\n        raise\n"
        "    try:\n        pass\n    except Exception:  # pyinfra raises bare exceptions\n        pass\n"
    )
    assert module_state(pkg) == [
        "fleet/x/a.py:2: module-level mutable CACHE",
        "fleet/x/a.py:3: module-level mutable NAMES",
        "fleet/x/a.py:8: global OK",
        "fleet/x/a.py:7: module-level cache on f",
    ]
    assert broad_excepts(pkg) == ["fleet/x/a.py:11: except Exception"]
