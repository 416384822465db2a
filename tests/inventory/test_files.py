"""The shape of a site file, a group_vars file and the vault (fleet/inventory/files.py): the
errors the loader used to build by hand now come from the models, at the same file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InventoryError, Problem
from fleet.inventory.files import KINDS, SiteFile, SiteGroups, Vault
from fleet.inventory.models import DeviceKind
from fleet.inventory.secrets import DEMO_VAULT_PASSWORD, REQUIRED_SECRETS, encrypt_vault
from fleet.inventory.validate import validate_with_lines
from fleet.inventory.yamlsrc import load_yaml, load_yaml_text
from tests.inventory.conftest import Edit, line_no, problems_of

FLORAC = "sites/florac-fs.yml"
FLORAC_PATH = "inventory/sites/florac-fs.yml"
UPS = "    ups:\n      hosts:\n        florac-fs-ups1:\n"


def model_problems(path: Path, display: str) -> list[Problem]:
    """What the two site-file models say of a file, validated directly (no loader)."""
    problems: list[Problem] = []
    data = load_yaml(path, display, problems)
    assert not problems
    try:
        file = validate_with_lines(SiteFile, data, display, line=1)
        validate_with_lines(SiteGroups, file.groups, display, line=1)
    except InventoryError as exc:
        return list(exc.problems)
    return []


@pytest.mark.parametrize("old, new, needle", [
    ("    public_pc:\n", "    pubic_pc:\n", "unknown device kind 'pubic_pc'"),
    (UPS, "", "host is in no kind group"),
    (UPS, UPS + "        florac-fs-pc1:\n", "host is in two kind groups (public_pc and ups)"),
    (UPS, UPS + "        florac-fs-ups9:\n", "not in site group site_florac_fs"),
    (UPS, UPS.replace("ups1:", "ups1: {snmp_port: 1161}"), "host variables belong under"),
    ("    borne:\n      hosts:", "    borne:\n      vars: {kiosk_x: 1}\n      hosts:",
     "kind groups are shared by every site: put per-kind variables in "
     "inventory/group_vars/borne.yml"),
    ("    borne:\n      hosts:", "    borne:\n      hostz:", "must list its hosts under 'hosts'"),
    ("        florac-fs-ups1:\n          ansible_host", "        Florac_UPS1:\n          ansible_host",
     "hostname must be lowercase"),
    ("all:\n  children:", "all:\n  vars: {}\n  children:", "only 'children' is expected"),
    ("    public_pc:\n", "    site_florac_sp: {}\n    public_pc:\n", "exactly one site group"),
])
def test_a_shape_error_comes_from_the_models_at_its_line(
    inv_dir: Path, edit: Edit, old: str, new: str, needle: str
) -> None:
    edit(FLORAC, old, new)
    if "Florac_UPS1" in new:  # renamed in its kind group too
        edit(FLORAC, UPS, UPS.replace("florac-fs-ups1", "Florac_UPS1"))
    loaded = [p for p in problems_of(inv_dir) if p.file == FLORAC_PATH]
    direct = model_problems(inv_dir / FLORAC, FLORAC_PATH)
    assert any(needle in p.message for p in direct), [str(p) for p in direct]
    assert loaded == direct  # the loader adds nothing of its own: same file, line, field, value
    for p in direct:
        assert p.line is not None and p.line >= 1, str(p)


def test_lines_and_fields_of_the_layout_errors(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, UPS, UPS + "        florac-fs-pc1:\n")
    edit(FLORAC, "    public_pc:\n", "    pubic_pc:\n")
    by_message = {p.message.split(" (")[0].split(";")[0]: p
                  for p in model_problems(inv_dir / FLORAC, FLORAC_PATH)}
    kind = by_message["unknown device kind 'pubic_pc'"]
    assert (kind.line, kind.field, kind.value) == (line_no(inv_dir / FLORAC, "pubic_pc:"),
                                                   "pubic_pc", "pubic_pc")
    nowhere = by_message["host is in no kind group"]  # pc2 was listed in pubic_pc only
    assert nowhere.field == "site_florac_fs.hosts.florac-fs-pc2"
    assert nowhere.line == line_no(inv_dir / FLORAC, "florac-fs-pc2:")
    # pc1 is in ups only now: no longer two kind groups, and not "nowhere"
    assert all(p.value != "florac-fs-pc1" for p in by_message.values())


@pytest.mark.parametrize("text, message", [
    ("", "empty site file"),
    ("hello\n", "site file must be an Ansible YAML inventory"),
    ("- a\n- b\n", "site file must be an Ansible YAML inventory"),
    ("# comment\nall:\n  children:\n", "all.children: must be a mapping"),
])
def test_a_site_file_that_is_not_an_inventory(inv_dir: Path, text: str, message: str) -> None:
    (inv_dir / FLORAC).write_text(text, encoding="utf-8")
    (p,) = [p for p in problems_of(inv_dir) if p.file == FLORAC_PATH]
    assert message in str(p) and p.line is not None and p.line >= 1


def test_group_vars_and_host_vars_that_are_not_mappings(inv_dir: Path, edit: Edit) -> None:
    (inv_dir / "group_vars/printer.yml").write_text("- public\n", encoding="utf-8")
    edit(FLORAC, "        florac-fs-ups1:\n          ansible_host: 10.48.12.41\n",
         "        florac-fs-ups1: 10.48.12.41\n")
    problems = problems_of(inv_dir)
    gv = next(p for p in problems if p.file == "inventory/group_vars/printer.yml")
    assert gv.line == 1 and "group_vars file must be a mapping of variables" in gv.message
    assert "not a list" in gv.message
    host = next(p for p in problems if "host vars must be a mapping" in p.message)
    assert host.field == "site_florac_fs.hosts.florac-fs-ups1"
    assert host.line == line_no(inv_dir / FLORAC, "florac-fs-ups1: 10.48.12.41")
    assert host.value == "10.48.12.41"


def test_every_device_kind_has_its_kind_group() -> None:
    assert set(KINDS) == {k.value for k in DeviceKind}
    assert set(KINDS) <= set(SiteGroups.model_fields)


def test_the_vault_model() -> None:
    problems: list[Problem] = []
    data = load_yaml_text("vault_a: x\nfoo: secret\nvault_b:\n", "vault.yml", problems)
    with pytest.raises(InventoryError) as info:
        validate_with_lines(Vault, data, "vault.yml")
    (p,) = info.value.problems
    assert (p.line, p.field, p.value) == (2, "foo", "***") and "secret" not in str(p)
    required = [s for s in REQUIRED_SECRETS[:1]]
    ok = validate_with_lines(Vault, {required[0].name: "v"}, "vault.yml",
                             context={"required": required})
    assert ok.secrets == {required[0].name: "v"}  # the positive control
    with pytest.raises(InventoryError, match="required secret missing"):
        validate_with_lines(Vault, {required[0].name: None}, "vault.yml",
                            context={"required": required})


def test_an_empty_vault_lacks_every_required_secret(inv_dir: Path) -> None:
    """It used to be taken as "no secrets, nothing to check" (the required ones unchecked)."""
    (inv_dir / "group_vars/all/vault.yml").write_text(encrypt_vault("", DEMO_VAULT_PASSWORD))
    missing = {p.field for p in problems_of(inv_dir) if "required secret missing" in p.message}
    assert missing == {s.name for s in REQUIRED_SECRETS}
