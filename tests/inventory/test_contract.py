"""One inventory contract: every variable the roles and the engine read is accepted by the
loader and carried by a typed model field; the engine never reads raw variables; the roles
fail on a missing required value instead of a silent default.

The names are derived from the roles themselves (Jinja expressions in defaults, tasks,
handlers and templates; the prose of argument specs and READMEs), not listed by hand, so a role
that starts reading a new ``site_*`` variable makes this test fail until the models carry it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.inventory.power import SitePower
from fleet.inventory import load_inventory
from fleet.inventory.models import Device, Site
from fleet.inventory.roles import load_role_specs
from fleet.inventory.variables import TYPED, SiteVars, contract_models, declared
from tests.inventory.conftest import Edit, line_no, problems_of

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
FLORAC = "sites/florac-fs.yml"

JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
BARE_JINJA_KEYS = {"when", "that", "loop", "until", "changed_when", "failed_when", "hosts"}
IDENT = re.compile(r"(?<![\w.|'\"])([a-z][a-z0-9_]*)")
FILTER = re.compile(r"\|\s*([a-z][a-z0-9_]*)")


def _expressions(path: Path) -> Iterator[str]:
    text = path.read_text(encoding="utf-8")
    for m in JINJA.finditer(text):
        yield m.group(1) or m.group(2)
    if path.suffix in (".yml", ".yaml"):
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            return
        yield from _bare(docs)


def _bare(node: Any) -> Iterator[str]:
    """Values of the task keys Ansible evaluates as Jinja without braces (when:, loop:, …)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in BARE_JINJA_KEYS:
                items = value if isinstance(value, list) else [value]
                yield from (str(v) for v in items if isinstance(v, str | bool))
            yield from _bare(value)
    elif isinstance(node, list):
        for item in node:
            yield from _bare(item)


def _names_in(expr: str) -> set[str]:
    filters = set(FILTER.findall(expr))
    return {n for n in IDENT.findall(expr) if n not in filters}


def _set_internally(paths: list[Path]) -> set[str]:
    """Variables a role or playbook sets itself (register:, set_fact:, play vars:)."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("register"), str):
                out.add(node["register"])
            for key in ("ansible.builtin.set_fact", "set_fact", "vars"):
                if isinstance(node.get(key), dict):
                    out.update(str(k) for k in node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for p in paths:
        try:
            walk(list(yaml.safe_load_all(p.read_text(encoding="utf-8"))))
        except yaml.YAMLError:
            continue
    return out


def inventory_names_read_by_roles() -> set[str]:
    """Every site_*/device_*/monitor_*/relais_*/… and role-prefixed name the roles read or
    document, minus what a role or playbook sets itself."""
    specs = load_role_specs(ROLES)
    prefixes = ("site_", "device_", "monitor_", "relais_", "lab_", "netdev_", "snmp_",
                "ansible_", *specs.prefixes)
    files = [p for p in ROLES.rglob("*") if p.is_file() and p.suffix in (".yml", ".j2", ".sh")]
    found: set[str] = set()
    for p in files:
        for expr in _expressions(p):
            found |= _names_in(expr)
    prose = [*ROLES.glob("*/README.md"), *ROLES.glob("*/meta/argument_specs.yml")]
    for p in prose:
        found |= set(re.findall(r"\b((?:site|device|monitor)_[a-z0-9_]+)\b", p.read_text("utf-8")))
    playbooks = sorted((REPO / "playbooks").glob("*.yml"))
    internal = _set_internally([*files, *playbooks])
    facts = {"ansible_facts", "ansible_managed", "ansible_check_mode", "ansible_mitogen",
             "ansible_inventory_sources"}  # Ansible's own (magic) variables
    # set only by the lab's generated overlay (fleet/lab/sshconf.py), never by an inventory
    facts |= {"lab_site"}
    return {n for n in found
            if n.startswith(prefixes) and n not in internal and n not in facts
            and not n.startswith("ansible_facts")}


def test_the_derivation_finds_what_the_roles_read() -> None:
    # positive control: names known to be read by the roles are derived (so an empty or
    # broken derivation cannot make the next test pass)
    names = inventory_names_read_by_roles()
    assert {"site_kiosk_allowlist", "site_ntp_servers", "site_referent", "site_opening_hours",
            "device_pmr", "relais_controller_networks", "kiosk_default_allowlist",
            "content_filter_extra_categories"} <= names
    assert "captive_portal_dnsmasq_foreign" not in names  # registered by a task
    assert "relais_nthhost" not in names  # a filter plugin


def test_every_name_the_roles_read_is_accepted_and_typed() -> None:
    models = contract_models(load_role_specs(ROLES))
    accepted = set(declared(models.site)) | set(declared(models.host)) | set(declared(models.group))
    names = inventory_names_read_by_roles()
    refused = sorted(names - accepted)
    assert not refused, f"the roles read variables the loader refuses: {refused}"
    specs = load_role_specs(ROLES)
    fields = {**models.group.model_fields, **models.site.model_fields, **models.host.model_fields}
    for name in sorted(names):
        if specs.role_of(name) is not None:  # typed by the role's argument specs
            var = specs.get(name)
            assert var is not None and var.type != "raw", f"{name}: no type in argument specs"
        elif name.startswith(("site_", "device_", "monitor_")):  # a field of Site or Device
            assert name in TYPED, f"{name}: no typed model field carries it (variables.TYPED)"
        else:  # relais_*, snmp_*, ansible_*: typed in the input models
            assert fields[name].annotation is not Any, f"{name}: declared without a type"


def test_every_typed_field_exists() -> None:
    for name, target in TYPED.items():
        model, attr = target.split(".")
        cls = {"Site": Site, "Device": Device}[model]
        assert attr in cls.model_fields, f"{name} → {target}: no such field"


# one valid value per optional variable, and what the typed field must then hold
SITE_SAMPLES: dict[str, tuple[str, str, object]] = {
    "site_portal_url": ('"https://www.florac.example/"', "portal_url",
                        "https://www.florac.example/"),
    "site_kiosk_allowlist": ('["https://www.caf.fr", "https://www.ameli.fr"]', "kiosk_allowlist",
                             ("https://www.caf.fr", "https://www.ameli.fr")),
    "site_ntp_servers": ("[ntp1.example.org, 10.48.0.1]", "ntp_servers",
                         ("ntp1.example.org", "10.48.0.1")),
    "site_notes": ('"Clé à la mairie"', "notes", "Clé à la mairie"),
    "site_agenda": ('"https://agenda.example.org/florac.ics"', "agenda",
                    "https://agenda.example.org/florac.ics"),
    "site_visio_origins": ("[https://visio.caf.fr]", "visio_origins", ("https://visio.caf.fr",)),
}
HOST_SAMPLES: dict[str, tuple[str, str, object]] = {
    "monitor_parent": ("florac-fs-sw1", "monitor_parent", ("florac-fs-sw1",)),
    "device_serial": ('"SN-0042"', "serial", "SN-0042"),
    "device_location": ('"Accueil, à gauche"', "location", "Accueil, à gauche"),
    "device_model": ('"HP ProDesk"', "model", "HP ProDesk"),
    "device_mac": ('"AA:BB:CC:00:11:22"', "mac", "aa:bb:cc:00:11:22"),
    "lab_recording": ("printers/brother", "lab_recording", "printers/brother"),
    "ansible_user": ("technicien", "admin_user", "technicien"),
    "content_filter_profile": ("pmi", "content_filter_profile", "pmi"),
    "content_filter_extra_categories": ("[gambling]", "content_filter_extra_categories",
                                        ("gambling",)),
    "content_filter_allow": ("[www.example.org]", "content_filter_allow", ("www.example.org",)),
    "relais_controller_networks": ("[192.168.50.0/24]", "controller_networks", None),
}


def test_optional_site_variables_load_into_typed_fields(inv_dir: Path, edit: Edit) -> None:
    lines = "".join(f"        {k}: {v}\n" for k, (v, _a, _e) in SITE_SAMPLES.items())
    edit(FLORAC, "        site_pmi: false\n", "        site_pmi: false\n" + lines)
    site = load_inventory(inv_dir).site("florac-fs")
    for name, (_v, attr, expected) in SITE_SAMPLES.items():
        assert getattr(site, attr) == expected, name
    # every optional site variable has a sample here
    optional = {n for n, f in SiteVars.model_fields.items() if not f.is_required()
                and n.startswith("site_")}
    assert isinstance(site.power, SitePower)  # site_power: florac-fs's own, typed
    assert optional - {"site_closures", "site_pmi", "site_power"} <= set(SITE_SAMPLES)


def test_host_variables_load_into_typed_fields(inv_dir: Path, edit: Edit) -> None:
    lines = "".join(f"          {k}: {v}\n" for k, (v, _a, _e) in HOST_SAMPLES.items())
    edit(FLORAC, "          ansible_host: 10.48.12.1\n",
         "          ansible_host: 10.48.12.1\n" + lines)
    gw = load_inventory(inv_dir).device("florac-fs-gw")
    for name, (_v, attr, expected) in HOST_SAMPLES.items():
        if expected is not None:
            assert getattr(gw, attr) == expected, name
    assert [str(n) for n in gw.controller_networks] == ["192.168.50.0/24"]


def test_monitor_parent_reaches_the_monitor(inv_dir: Path, edit: Edit) -> None:
    from fleet.monitor.cycle import parents_of
    from fleet.monitor.rules_file import load_rules

    rules = load_rules(REPO / "monitoring" / "rules.yml")
    before = parents_of(load_inventory(inv_dir).site("florac-fs"), rules)
    assert before["florac-fs-pc1"] == ("florac-fs-sw1",)
    edit(FLORAC, "          ansible_host: 10.48.12.11\n",
         "          ansible_host: 10.48.12.11\n          monitor_parent: florac-fs-ap1\n")
    after = parents_of(load_inventory(inv_dir).site("florac-fs"), rules)
    assert after["florac-fs-pc1"] == ("florac-fs-ap1",)


def test_a_role_variable_is_checked_against_its_declared_type(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "        site_pmi: false\n",
         "        site_pmi: false\n        content_filter_allow: www.example.org\n"
         "        kiosk_homepag: https://x.example/\n")
    problems = problems_of(inv_dir)
    typed = next(p for p in problems if p.field.endswith("content_filter_allow"))
    assert "must be a list" in typed.message
    assert typed.line == line_no(inv_dir / FLORAC, "content_filter_allow")
    typo = next(p for p in problems if p.field.endswith("kiosk_homepag"))
    assert "did you mean 'kiosk_homepage'?" in typo.message


def test_unknown_engine_variable_is_refused_with_a_suggestion(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "          ansible_host: 10.48.12.11\n",
         "          ansible_host: 10.48.12.11\n          monitor_parnt: florac-fs-sw1\n")
    (p,) = problems_of(inv_dir)
    assert p.message == "unknown key 'monitor_parnt' (did you mean 'monitor_parent'?)"


# ----------------------------------------------------------------- engine: typed fields ----


def raw_var_reads(source: str) -> list[int]:
    """Lines that read ``<something>.vars`` (the raw variables of a Site or Device)."""
    return [n.lineno for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Attribute) and n.attr == "vars"]


def test_the_raw_var_check_catches_a_read() -> None:
    assert raw_var_reads("x = device.vars.get('monitor_parent')\n") == [1]
    assert raw_var_reads("x = device.monitor_parent\n") == []


def test_the_engine_reads_typed_fields_never_raw_vars() -> None:
    offenders = []
    for path in sorted((REPO / "fleet").rglob("*.py")):
        if path.is_relative_to(REPO / "fleet" / "inventory"):
            continue
        for line in raw_var_reads(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(REPO)}:{line}")
    assert not offenders, f"raw inventory variables read outside fleet/inventory: {offenders}"


# ------------------------------------------------------ roles: no silent default on a must ----


def silent_defaults(text: str, required: set[str]) -> list[str]:
    out = [m.group(0) for m in re.finditer(r"default\(\s*\{\s*\}\s*\)", text)]
    for name in required:
        out += re.findall(rf"\b{name}\s*\|\s*default\(", text)
    return out


def test_the_silent_default_check_catches_one() -> None:
    assert silent_defaults("{{ (site_referent | default({})).email }}", {"site_referent"})
    assert silent_defaults("{{ site_name | default('') }}", {"site_name"})
    assert not silent_defaults("{{ site_portal_url | default('x') }}", {"site_name"})


def test_roles_never_default_a_required_site_variable() -> None:
    required = {n for n, f in SiteVars.model_fields.items() if f.is_required()}
    assert "site_name" in required
    found = {}
    for p in ROLES.rglob("*"):
        if p.is_file() and p.suffix in (".yml", ".j2") and "README" not in p.name:
            hits = silent_defaults(p.read_text(encoding="utf-8"), required)
            if hits:
                found[str(p.relative_to(REPO))] = hits
    assert not found, f"a required value is silently defaulted: {found}"


def test_checks_read_the_typed_allowlist(inv_dir: Path, edit: Edit) -> None:
    from fleet.checks.runner import expectations_for

    edit(FLORAC, "        site_pmi: false\n",
         '        site_pmi: false\n        site_kiosk_allowlist: ["https://www.caf.fr"]\n'
         '        site_portal_url: "https://www.caf.fr/"\n')
    inv = load_inventory(inv_dir)
    site = inv.site("florac-fs")
    (borne,) = expectations_for(inv, site, site.devices_of(site.devices[5].kind), ROLES)
    assert borne.allowlist == ("https://www.caf.fr",)
    assert borne.homepage == "https://www.caf.fr/"
    assert borne.admin_user == "relais"


# ------------------------------------------------------- the guest account: one value ----

GUEST_VARS = ("hardening_guest_user", "session_wipe_user", "session_question_user",
              "public_pc_guest_user", "kiosk_user")


def test_checks_expect_the_guest_account_the_inventory_names(inv_dir: Path, edit: Edit) -> None:
    from fleet.checks.runner import expectations_for

    site = load_inventory(inv_dir).site("florac-fs")
    before = expectations_for(load_inventory(inv_dir), site, site.devices, ROLES)
    assert {e.guest_user for e in before} == {"guest"}  # positive control: the roles' default
    others = "".join(f'        {n}: "{{{{ hardening_guest_user }}}}"\n' for n in GUEST_VARS[1:])
    edit(FLORAC, "        site_pmi: false\n",
         "        site_pmi: false\n        hardening_guest_user: visiteur\n" + others)
    inv = load_inventory(inv_dir)
    site = inv.site("florac-fs")
    expect = expectations_for(inv, site, site.devices, ROLES)
    assert {e.guest_user for e in expect} == {"visiteur"}
    assert {d.guest_user for d in site.devices} == {"visiteur"}
    assert {e.kind for e in expect} >= {"public_pc", "borne", "gateway"}


def test_one_guest_account_per_host(inv_dir: Path, edit: Edit) -> None:
    """The account the hardening role creates is the one wiped, asked, logged in and running
    the kiosk: an inventory that renames it in one role only is refused at its line."""
    edit(FLORAC, "        site_pmi: false\n",
         "        site_pmi: false\n        hardening_guest_user: visiteur\n")
    problems = problems_of(inv_dir)
    assert problems, "renaming the account the hardening role creates, and only it, loaded"
    p = problems[0]
    assert p.field.endswith("hardening_guest_user") and p.value == "visiteur"
    assert p.line == line_no(inv_dir / FLORAC, "hardening_guest_user")
    assert "(the role default)" in p.message and "'visiteur'" in p.message


def test_the_kiosk_runs_as_the_guest_account(inv_dir: Path, edit: Edit) -> None:
    # the borne group's kiosk_user differs: refused at that line; a PC does not read it
    edit("group_vars/borne.yml", "# Per-kind overrides of role variables go here (prefixed "
         "with the role name).\n", "kiosk_user: borne\n")
    (p,) = {(q.file, q.line, q.message): q for q in problems_of(inv_dir)}.values()
    assert p.field.endswith("kiosk_user") and p.value == "borne"
    assert p.file.endswith("group_vars/borne.yml") and p.line == 3
    assert p.message.startswith("a borne has one guest account: kiosk_user is 'borne'")


def test_a_guest_account_name_relais_cannot_read_is_refused(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "        site_pmi: false\n",
         '        site_pmi: false\n        session_wipe_user: "{{ lookup(\'env\', \'U\') }}"\n')
    problems = problems_of(inv_dir)
    assert problems and all(p.field.endswith("session_wipe_user") for p in problems)
    assert "write the account name" in problems[0].message
