"""The shape of the inventory's files around their variables, as pydantic models.

What a site file, its groups and the vault may hold is checked here, by models validated with
:func:`fleet.inventory.validate.validate_with_lines` — the one place that turns an error into
``file:line: field: message``, as for the variables (:mod:`fleet.inventory.variables`),
``monitoring/rules.yml`` and the SNMP profiles:

* :class:`SiteFile` — a site file: an Ansible YAML inventory, ``all: children: <groups>`` or
  the groups at the top;
* :class:`SiteGroups` — its groups: one site group ``site_<id>`` (``vars`` and ``hosts``) and
  kind groups (``public_pc: hosts: {pc1:}``) that say which of its hosts are of which kind;
* :class:`Vault` — the vault once decrypted: ``vault_*`` variables, the required ones present.

A ``group_vars`` file is one variables model (:class:`~fleet.inventory.variables.GroupVars`).
The loader (:mod:`fleet.inventory.loader`) keeps the directory layout (which files, which
groups apply to a host, in which order) and the checks across files.

The models keep each mapping as written (a :class:`~fleet.inventory.yamlsrc.LinedDict` that
remembers its lines), so the variables validated next are located too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fleet.errors import FieldError
from fleet.inventory.models import DeviceKind
from fleet.inventory.secrets import SecretSpec
from fleet.inventory.validate import describe, hint
from fleet.inventory.variables import check_hostname

KINDS: tuple[str, ...] = tuple(k.value for k in DeviceKind)


def _mapping(value: object) -> object:
    """A mapping, kept as written (with its lines); else the usual type error's words."""
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a mapping (key: value lines), not {describe(value)}")
    return value


Lined = Annotated[Any, BeforeValidator(_mapping)]
"""A mapping kept as the YAML loader made it (it knows the line of each key)."""


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


# ------------------------------------------------------------------------- site files ----


class AllGroup(_Shape):
    """``all:`` at the top of a site file: only ``children``, the groups."""

    children: Lined

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        return " (only 'children' is expected under 'all' in a site file)"


class SiteFile(_Shape):
    """A site file: an Ansible YAML inventory, ``all: children: <groups>`` or the groups
    written at the top (both are Ansible's)."""

    all: AllGroup | None = None
    top: Lined | None = None
    """The groups when written at the top (not a key of the file)."""

    @model_validator(mode="before")
    @classmethod
    def _form(cls, data: Any) -> Any:
        if data is None:
            raise ValueError("empty site file")
        if not isinstance(data, Mapping):
            raise ValueError("site file must be an Ansible YAML inventory "
                             "(a mapping: all: children: ...)")
        if set(data) == {"all"} and isinstance(data["all"], Mapping):
            return data
        return {"top": data}

    @property
    def groups(self) -> Mapping[str, Any]:
        """The groups, as written (wherever they were written)."""
        groups = self.all.children if self.all is not None else self.top
        assert isinstance(groups, Mapping)  # one of the two, a mapping: see _form
        return groups


def _hostnames(hosts: Mapping[str, Any]) -> Mapping[str, Any]:
    errors: list[tuple[tuple[str | int, ...], str, object]] = []
    for host in hosts:
        try:
            check_hostname(str(host))
        except ValueError as exc:
            errors.append(((str(host),), str(exc), host))
    if errors:
        raise FieldError.many(errors)
    return hosts


class SiteGroup(_Shape):
    """``site_<id>:``: the site's variables (:class:`~fleet.inventory.variables.SiteVars`,
    validated next) and its hosts, each with its own variables
    (:class:`~fleet.inventory.variables.HostVars`)."""

    vars: Lined | None = None
    hosts: Annotated[Lined, AfterValidator(_hostnames)] | None = None

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        return " (a site group holds vars and hosts)"


class SiteGroups(_Shape):
    """The groups of a site file: exactly one site group ``site_<id>``, and kind groups
    (one per device kind, :data:`KINDS`) listing which of its hosts are of that kind.

    A kind group lists hosts only: kind groups are shared by every site of the inventory, so
    their variables belong in ``group_vars/<kind>.yml`` and a host's in the site group.  Every
    host of the site group is in exactly one kind group, and a kind group lists only hosts of
    the site group."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, SiteGroup] = Field(init=False)  # the site group, by its name

    group: str
    """The site group's name (not a key of the file)."""
    unknown: tuple[str, ...] = ()
    """Groups that are neither the site group nor a kind group (reported, not a key)."""
    public_pc: Lined | None = None
    borne: Lined | None = None
    gateway: Lined | None = None
    printer: Lined | None = None
    switch: Lined | None = None
    ap: Lined | None = None
    ups: Lined | None = None
    screen: Lined | None = None

    ONE_SITE: ClassVar[str] = "a site file holds exactly one site group named site_<id>"

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"must be a mapping of groups, not {describe(data)}")
        sites = [str(g) for g in data if str(g).startswith("site_")]
        if len(sites) != 1:
            raise FieldError((), cls.ONE_SITE, sites)
        known = {str(g): body for g, body in data.items() if str(g) in KINDS}
        unknown = tuple(str(g) for g in data if str(g) not in KINDS and str(g) != sites[0])
        return {"group": sites[0], "unknown": unknown, sites[0]: data[sites[0]], **known}

    @field_validator(*KINDS, mode="before")
    @classmethod
    def _kind_group(cls, body: Any, info: ValidationInfo) -> Any:
        kind, group = info.field_name, info.data.get("group")
        if not isinstance(body, Mapping) or not isinstance(body.get("hosts"), Mapping):
            raise FieldError((), "kind group must list its hosts under 'hosts'", None)
        errors: list[tuple[tuple[str | int, ...], str, object]] = [
            ((str(key),), f"kind groups are shared by every site: put per-kind variables in "
                          f"inventory/group_vars/{kind}.yml and per-site ones in {group}.vars",
             None)
            for key in body if key != "hosts"]
        errors += [(("hosts", str(host)), f"host variables belong under {group}.hosts.{host}, "
                                          "not in the kind group", None)
                   for host, hv in body["hosts"].items() if hv]
        if errors:
            raise FieldError.many(errors)
        return body

    @model_validator(mode="after")
    def _membership(self) -> SiteGroups:
        errors: list[tuple[tuple[str | int, ...], str, object]] = [
            ((g,), f"unknown device kind {g!r}{hint(g, KINDS)}; kinds are: {', '.join(KINDS)}",
             g)
            for g in self.unknown]
        hosts = self.site.hosts or {}
        seen: dict[str, str] = {}
        for kind in KINDS:
            for host in (getattr(self, kind) or {}).get("hosts", {}):
                if host in seen:
                    errors.append(((kind, "hosts", host), f"host is in two kind groups "
                                                          f"({seen[host]} and {kind})", host))
                    continue
                seen[str(host)] = kind
                if host not in hosts:
                    errors.append(((kind, "hosts", host), f"host listed in kind group {kind} "
                                                          f"but not in site group {self.group}",
                                   host))
        errors += [((self.group, "hosts", str(h)), "host is in no kind group; add it under one "
                                                   f"of: {', '.join(KINDS)}", h)
                   for h in hosts if h not in seen]
        if errors:
            raise FieldError.many(errors)
        return self

    @property
    def site(self) -> SiteGroup:
        extra = self.__pydantic_extra__ or {}
        return extra[self.group]

    def kind_of(self) -> dict[str, str]:
        """host → its kind, for every host of the site."""
        return {str(host): kind for kind in KINDS
                for host in (getattr(self, kind) or {}).get("hosts", {})}


# ------------------------------------------------------------------------------ vault ----


class Vault(_Shape):
    """The vault once decrypted: ``vault_*`` variables (as text), the ones the context names
    as ``required`` (:data:`fleet.inventory.secrets.REQUIRED_SECRETS`) present and not empty.
    A problem never shows a value of the vault."""

    secrets: Mapping[str, str]

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any, info: ValidationInfo) -> Any:
        if data is None:  # an empty vault
            data = {}
        if not isinstance(data, Mapping):
            raise FieldError((), "vault must be a mapping of vault_* variables", None)
        secrets = cls.texts(data)
        errors: list[tuple[tuple[str | int, ...], str, object]] = [
            ((key,), "vault variables must start with vault_", "***")
            for key in secrets if not key.startswith("vault_")]
        required: tuple[SecretSpec, ...] = (info.context or {}).get("required", ())
        errors += [((spec.name,), f"required secret missing from the vault: "
                                  f"{spec.description}", None)
                   for spec in required if not secrets.get(spec.name)]
        if errors:
            raise FieldError.many(errors)
        return {"secrets": secrets}

    @staticmethod
    def texts(data: Any) -> dict[str, str]:
        """The values of a mapping as text (an empty value: ``""``); of anything else, none —
        what the rest of the load uses when the vault has problems (they are reported)."""
        if not isinstance(data, Mapping):
            return {}
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
