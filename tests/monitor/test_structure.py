"""The shape of ``fleet/monitor``, checked on its source (each check is shown to fail on a
small bad example first, so none is vacuous):

* the state machine (``rules.py``) is pure: no file, YAML, pydantic, network or store;
* "is the site open now?" is asked of ``fleet.inventory.hours.open_state``, never recomputed;
* the engines' modules import one another without a cycle (``snmp.py`` and ``usm.py`` did);
* callers never ask which engine they hold (``isinstance`` on an engine class);
* no module-level (or class-level) mutable state;
* ``except Exception`` only at a third-party boundary, where it is translated (``raise``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

MONITOR = Path(__file__).resolve().parents[2] / "fleet" / "monitor"
ENGINE_CLASSES = {"V2cEngine", "UsmEngine", "V3Engine"}

IMPURE = {"yaml", "pydantic", "pathlib", "socket", "asyncio", "sqlalchemy", "fleet.store",
          "fleet.monitor.rules_file", "fleet.monitor.cycle"}  # fmt: skip


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(MONITOR.glob("*.py")):
        yield path.stem, _tree(path)


def imports(tree: ast.AST) -> set[str]:
    """Every module imported anywhere in the tree (function-level imports included)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def impure_imports(tree: ast.AST) -> set[str]:
    return {m for m in imports(tree) if any(m == i or m.startswith(i + ".") for i in IMPURE)}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt > path[0]:  # each cycle once, from its smallest module
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return cycles


def engine_type_checks(tree: ast.AST) -> list[int]:
    """Lines of ``isinstance(x, <engine class>)``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            if names & ENGINE_CLASSES:
                lines.append(node.lineno)
    return lines


_MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque",
                  "bytearray"}  # fmt: skip


def _mutable(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp
                  | ast.SetComp):  # fmt: skip
        return True
    if isinstance(value, ast.Call):
        name = getattr(value.func, "id", None) or getattr(value.func, "attr", None)
        return name in _MUTABLE_CALLS
    return False


def mutable_state(tree: ast.Module) -> list[str]:
    """Module- and class-level names bound to a mutable container, and ``global``."""
    found: list[str] = []
    bodies: list[tuple[str, list[ast.stmt]]] = [("", tree.body)]
    bodies += [(n.name + ".", n.body) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for prefix, body in bodies:
        for stmt in body:
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign):
                targets, value = [stmt.target], stmt.value
            else:
                continue
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if names and names != ["__all__"] and _mutable(value):
                found.append(prefix + names[0])
    found += [f"global {', '.join(n.names)}" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    return found


def _function_of(tree: ast.AST, target: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            n is target for n in ast.walk(node)
        ):
            inner = _function_of(ast.Module(body=node.body, type_ignores=[]), target)
            return inner if inner != "<module>" else node.name
    return "<module>"


TEARDOWN = {("v3arch", "close"), ("v3arch", "_close_dispatcher")}
"""Where swallowing everything is right: pysnmp's teardown, best effort."""


def broad_handlers(module: str, tree: ast.AST) -> list[str]:
    """``except Exception``/``BaseException``/bare ``except`` that does not re-raise, and
    ``suppress(Exception)`` outside the pysnmp teardown."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler):
            caught = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)} | {
                n.attr for n in ast.walk(node.type) if isinstance(n, ast.Attribute)
            } if node.type else {"(bare)"}
            if caught & {"Exception", "BaseException", "(bare)"} and not any(
                isinstance(n, ast.Raise) for n in ast.walk(node)
            ):
                found.append(f"{module}:{node.lineno}: except without re-raise")
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "suppress"
            and any(getattr(a, "id", None) in ("Exception", "BaseException") for a in node.args)
            and (module, _function_of(tree, node)) not in TEARDOWN
        ):
            found.append(f"{module}:{node.lineno}: suppress(Exception)")
    return found


# ------------------------------------------------------------------------- the checks ----


def test_the_state_machine_is_pure() -> None:
    assert impure_imports(_tree(MONITOR / "rules.py")) == set()


def test_the_engines_import_without_cycles() -> None:
    graph = {
        name: {m.split(".")[2] for m in imports(tree) if m.startswith("fleet.monitor.")
               and len(m.split(".")) > 2} - {name}
        for name, tree in _modules()
    }  # fmt: skip
    assert import_cycles(graph) == []


def hours_questions(tree: ast.AST) -> set[str]:
    """What a module takes from the inventory's opening hours besides the one answer."""
    return {m.rsplit(".", 1)[1] for m in imports(tree)
            if m.startswith("fleet.inventory.hours.")} - {"open_state", "OpenState"}  # fmt: skip


def test_open_now_is_asked_of_the_inventory_once() -> None:
    """The monitor never works out opening hours itself: it calls ``hours.open_state``."""
    found = {name: q for name, tree in _modules() if (q := hours_questions(tree))}
    assert found == {}


def test_callers_never_ask_which_engine_they_hold() -> None:
    found = {name: lines for name, tree in _modules() if (lines := engine_type_checks(tree))}
    assert found == {}


def test_no_module_level_mutable_state() -> None:
    found = {name: names for name, tree in _modules() if (names := mutable_state(tree))}
    assert found == {}


def test_broad_excepts_only_translate_at_a_boundary() -> None:
    found = [f for name, tree in _modules() for f in broad_handlers(name, tree)]
    assert found == []


# --------------------------------------------------------------- the checks can fail ----


BAD = '''
import yaml
from fleet.inventory.hours import intervals, open_state
from fleet.monitor.usm import UsmEngine
CACHE: dict[str, int] = {}
class Registry:
    engines = []
def poll(engine):
    global CACHE
    if isinstance(engine, (V2cEngine, snmp.V3Engine)):
        pass
    try:
        pass
    except Exception:
        log("oops")
    with contextlib.suppress(Exception):
        pass
    try:
        pass
    except Exception as exc:
        raise SnmpError("x") from exc
'''


def test_each_check_catches_a_bad_example() -> None:
    tree = ast.parse(BAD)
    assert impure_imports(tree) == {"yaml"}
    assert hours_questions(tree) == {"intervals"}
    assert import_cycles({"snmp": {"usm"}, "usm": {"snmp", "ber"}, "ber": set()}) == [
        ["snmp", "usm", "snmp"]
    ]
    assert engine_type_checks(tree) == [10]
    assert mutable_state(tree) == ["CACHE", "Registry.engines", "global CACHE"]
    assert broad_handlers("poller", tree) == [
        "poller:14: except without re-raise",
        "poller:16: suppress(Exception)",
    ]

