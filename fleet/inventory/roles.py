"""The roles' side of the inventory contract: the variables each role declares, and its
defaults (what a host gets when the inventory does not set a variable).

Every role in ``roles/`` declares its variables, with their types, in
``meta/argument_specs.yml`` (kept equal to ``defaults/main.yml`` by ``tests/roles``).  The
inventory may override any of them — and only them: ``kiosk_homepag`` is an unknown key with
``(did you mean 'kiosk_homepage'?)``, and ``content_filter_allow: example.org`` (a text where
the role expects a list) is refused at its line.  A Jinja expression (``"{{ … }}"``) is
accepted for any type: Ansible evaluates it, not Relais.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import InventoryError, Problem
from fleet.inventory.validate import describe

_SPEC_TYPES = frozenset({"str", "bool", "int", "float", "list", "dict", "path", "raw"})


@dataclass(frozen=True, slots=True)
class RoleVar:
    """One variable a role declares: its type (argument_specs), list element type, choices."""

    role: str
    name: str
    type: str = "raw"
    elements: str | None = None
    choices: tuple[object, ...] = ()
    description: str = ""

    def check(self, value: object) -> object:
        """``value`` if it fits the declared type, else ValueError with a readable message."""
        if isinstance(value, str) and "{{" in value:
            return value  # a Jinja expression: Ansible's business
        _check_type(value, self.type, self.name)
        if self.type == "list" and self.elements and isinstance(value, list):
            for item in value:
                if not (isinstance(item, str) and "{{" in item):
                    _check_type(item, self.elements, f"{self.name} items")
        if self.choices and value not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise ValueError(f"{value!r} is not one of: {options}")
        return value


def _check_type(value: object, kind: str, what: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        "str": isinstance(value, str),
        "path": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": number and isinstance(value, int),
        "float": number,
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        words = {"str": "a text", "path": "a path (text)", "bool": "true or false",
                 "int": "a whole number", "float": "a number", "list": "a list",
                 "dict": "a mapping"}
        raise ValueError(f"{what} must be {words.get(kind, kind)}, not {describe(value)} "
                         "(type declared in the role's meta/argument_specs.yml)")


@dataclass(frozen=True, slots=True)
class RoleSpecs:
    """Every variable of every role under a ``roles/`` directory."""

    roles: tuple[str, ...] = ()
    variables: Mapping[str, RoleVar] | None = None
    defaults: Mapping[str, Any] | None = None
    """Each role's ``defaults/main.yml``, as written (Jinja expressions included)."""

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(r + "_" for r in self.roles)

    def get(self, name: str) -> RoleVar | None:
        return (self.variables or {}).get(name)

    def names(self) -> list[str]:
        return sorted(self.variables or {})

    def role_of(self, name: str) -> str | None:
        """The role whose prefix ``name`` carries (longest prefix: ``snmp_agent_`` vs …)."""
        matches = [r for r in self.roles if name.startswith(r + "_")]
        return max(matches, key=len) if matches else None

    def default(self, name: str) -> Any:
        """The role's default for ``name`` as written in its ``defaults/main.yml`` (None when
        the role has none); a Jinja expression is returned as its text."""
        return (self.defaults or {}).get(name)

    def checker(self, name: str) -> Callable[[Any], Any]:
        var = self.get(name)
        assert var is not None, name
        return var.check


def load_role_specs(roles_dir: Path) -> RoleSpecs:
    """Read ``roles/*/meta/argument_specs.yml``; a role without specs declares nothing (every
    override of its variables is then refused).  A broken specs file is an InventoryError."""
    if not roles_dir.is_dir():
        return RoleSpecs()
    roles: list[str] = []
    variables: dict[str, RoleVar] = {}
    defaults: dict[str, Any] = {}
    problems: list[Problem] = []
    for role_dir in sorted(p for p in roles_dir.iterdir() if p.is_dir()):
        roles.append(role_dir.name)
        defaults_file = role_dir / "defaults" / "main.yml"
        if defaults_file.is_file():
            try:
                data = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                problems.append(Problem(str(defaults_file), None, "", None,
                                        f"unreadable role defaults: {exc}"))
            else:
                if isinstance(data, dict):
                    defaults.update((str(k), v) for k, v in data.items())
        spec_file = role_dir / "meta" / "argument_specs.yml"
        if not spec_file.is_file():
            continue
        try:
            data = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
            options = data["argument_specs"]["main"].get("options") or {}
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
            problems.append(Problem(str(spec_file), None, "", None,
                                    f"unreadable role argument specs: {exc}"))
            continue
        for name, opt in options.items():
            opt = opt if isinstance(opt, dict) else {}
            kind = str(opt.get("type", "raw"))
            variables[str(name)] = RoleVar(
                role=role_dir.name,
                name=str(name),
                type=kind if kind in _SPEC_TYPES else "raw",
                elements=str(opt["elements"]) if opt.get("elements") else None,
                choices=tuple(opt.get("choices") or ()),
                description=str(opt.get("description", "")),
            )
    if problems:
        raise InventoryError(problems)
    return RoleSpecs(tuple(roles), variables, defaults)
