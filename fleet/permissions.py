"""The permission matrix: which role may do what, as data in one place
(``fleet/permissions.yml``), for every face: the CLI enforces it for remote actions,
diagnostics and power; the web dashboard will enforce the same matrix.

The actor of a command and its role::

    actor = --as USER  >  FLEET_USER (setting ``user``)  >  the OS account (SUDO_USER, USER)
    role  = setting ``user_roles`` ("alice:hotline,bob:technician") for that actor,
            else setting ``default_role`` (technician)

The CLI is not an authentication boundary: whoever runs ``fleet`` on the controller holds the
SSH keys anyway; ``--as`` says on whose behalf it acts, and the matrix keeps each role to its
job.  The dashboard passes the logged-in account's role (from the store) to :func:`require`,
so both faces go through this one matrix.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from fleet import settings
from fleet.errors import ConfigError, PermissionDenied

MATRIX_FILE = Path(__file__).with_name("permissions.yml")


@dataclass(frozen=True, slots=True)
class Matrix:
    roles: tuple[str, ...]
    permissions: Mapping[str, frozenset[str]]

    def allows(self, role: str, permission: str) -> bool:
        if permission not in self.permissions:
            raise ConfigError(f"permission {permission!r} is not in {MATRIX_FILE.name}")
        return role in self.permissions[permission]

    def granted(self, role: str) -> list[str]:
        return sorted(p for p, roles in self.permissions.items() if role in roles)


def parse_matrix(text: str, where: str = MATRIX_FILE.name) -> Matrix:
    data = yaml.safe_load(text) or {}
    roles = tuple(str(r) for r in data.get("roles") or ())
    if not roles:
        raise ConfigError(f"{where}: no roles")
    perms: dict[str, frozenset[str]] = {}
    for name, allowed in (data.get("permissions") or {}).items():
        given = [str(r) for r in allowed or ()]
        unknown = sorted(set(given) - set(roles))
        if unknown:
            raise ConfigError(f"{where}: permission {name!r}: unknown role {unknown[0]!r}")
        perms[str(name)] = frozenset(given)
    return Matrix(roles, MappingProxyType(perms))


def matrix() -> Matrix:
    """The matrix of this installation."""
    return parse_matrix(MATRIX_FILE.read_text("utf-8"))


def actor(as_user: str | None = None) -> str:
    """Who acts: ``--as`` > ``FLEET_USER`` > the OS account."""
    who = settings.get("user", as_user) or os.environ.get("SUDO_USER") or os.environ.get("USER") \
        or getpass.getuser()
    who = str(who).strip()
    if not who:
        raise ConfigError("--as: the actor's name is empty")
    return who


def parse_user_roles(text: str, known: tuple[str, ...]) -> dict[str, str]:
    """``"alice:hotline, bob:technician"`` -> {alice: hotline, bob: technician}."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, role = item.partition(":")
        name, role = name.strip(), role.strip()
        if not sep or not name or role not in known:
            raise ConfigError(f"user_roles {item.strip()!r}: expected USER:ROLE with ROLE one of "
                              f"{', '.join(known)}")
        out[name] = role
    return out


def role_of(who: str) -> str:
    """The role of an actor (settings ``user_roles``, else ``default_role``)."""
    m = matrix()
    mapping = parse_user_roles(str(settings.get("user_roles") or ""), m.roles)
    role = mapping.get(who) or str(settings.get("default_role"))
    if role not in m.roles:
        raise ConfigError(f"default_role {role!r}: not a role ({', '.join(m.roles)})")
    return role


def require(who: str, permission: str, role: str | None = None) -> str:
    """The actor's role, when it may do ``permission``; else PermissionDenied (one line).

    ``role``: the actor's role when the face already knows it (the dashboard: the logged-in
    account's role from the store); None: :func:`role_of` (the CLI's settings)."""
    m = matrix()
    if role is None:
        role = role_of(who)
    elif role not in m.roles:
        raise ConfigError(f"role {role!r} of {who}: not a role ({', '.join(m.roles)})")
    if not m.allows(role, permission):
        raise PermissionDenied(f"{who} ({role}) may not {permission} "
                               f"(see fleet/permissions.yml; roles allowed: "
                               f"{', '.join(sorted(m.permissions[permission]))})")
    return role
