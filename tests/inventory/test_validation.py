"""Every validation error names file:line, field and value; all are reported together."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InventoryError

from fleet.inventory.secrets import DEMO_VAULT_PASSWORD, decrypt_vault, encrypt_vault
from tests.inventory.conftest import Edit, line_no, load_ok, problems_of

FLORAC = "sites/florac-fs.yml"
FLORAC_PATH = "inventory/sites/florac-fs.yml"


def only(problems: list, needle: str):  # type: ignore[no-untyped-def]
    hits = [p for p in problems if needle in p.message]
    assert len(hits) == 1, [str(p) for p in problems]
    return hits[0]


def test_demo_inventory_is_valid(inv_dir: Path) -> None:
    inv = load_ok(inv_dir)
    kinds = {s.kind.value for s in inv.sites}
    assert len([s for s in inv.sites if s.kind.value == "france_services"]) == 13
    assert len([s for s in inv.sites if s.kind.value == "mairie" and s.commune != "Nouméa"]) == 11
    assert {"prefecture", "sous_prefecture", "centre_social"} <= kinds
    assert inv.site("rennes-maurepas").pmi is True
    assert inv.site("noumea-ps").timezone == "Pacific/Noumea"
    muret = inv.site("muret-sp")
    pcs = [d for d in muret.devices if d.kind.value == "public_pc"]
    assert 2 <= len(pcs) <= 3 and sum(d.pmr for d in pcs) == 1
    for d in inv.devices:
        assert d.ip.is_private


def test_unknown_site_key_with_suggestion(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "site_pmi: false", "site_pmii: false")
    p = only(problems_of(inv_dir), "unknown key 'site_pmii'")
    assert p.file == FLORAC_PATH
    assert p.line == line_no(inv_dir / FLORAC, "site_pmii")
    assert "did you mean 'site_pmi'?" in p.message
    assert str(p).startswith(f"{FLORAC_PATH}:{p.line}: site_florac_fs.vars.site_pmii:")


def test_unknown_host_key_with_suggestion(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "          device_pmr: true", "          device_pmrr: true")
    p = only(problems_of(inv_dir), "unknown key 'device_pmrr'")
    assert p.line == line_no(inv_dir / FLORAC, "device_pmrr")
    assert "did you mean 'device_pmr'?" in p.message


def test_bad_ip(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "ansible_host: 10.48.12.11", "ansible_host: 10.48.12.300")
    p = only(problems_of(inv_dir), "is not an IPv4 address")
    assert p.line == line_no(inv_dir / FLORAC, "10.48.12.300")
    assert p.field == "site_florac_fs.hosts.florac-fs-pc1.ansible_host"
    assert p.value == "10.48.12.300"


def test_ip_outside_site_subnet(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "ansible_host: 10.48.12.21", "ansible_host: 10.48.13.21")
    p = only(problems_of(inv_dir), "outside the site's management network")
    assert p.line == line_no(inv_dir / FLORAC, "10.48.13.21")
    assert "10.48.12.0/24" in p.message


def test_duplicate_hostname_across_files(inv_dir: Path, edit: Edit) -> None:
    path = "sites/langogne-fs.yml"
    text = (inv_dir / path).read_text()
    (inv_dir / path).write_text(text.replace("langogne-fs-pc2", "florac-fs-pc2"))
    p = only(problems_of(inv_dir), "duplicate hostname")
    assert "florac-fs.yml" in p.message or "florac-fs.yml" in p.file
    assert "langogne-fs.yml" in p.message or "langogne-fs.yml" in p.file
    assert p.line is not None


def test_duplicate_ip_in_network(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "ansible_host: 10.48.12.12", "ansible_host: 10.48.12.11")
    p = only(problems_of(inv_dir), "duplicate IP address")
    assert "florac-fs-pc1" in p.message
    assert p.line == line_no(inv_dir / FLORAC, "florac-fs-pc2:")


def test_overlapping_site_networks(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "guest: 172.16.12.0/24", "guest: 172.16.11.0/24")
    p = only(problems_of(inv_dir), "guest network 172.16.11.0/24")
    # reported once, on whichever of the two files is read second, at the network's own line
    assert p.value == "172.16.11.0/24"
    assert p.field.endswith("vars.site_networks.guest")
    assert p.line == line_no(Path(p.file).resolve(), "guest: 172.16.11.0/24")
    assert "florac-fs" in str(p) and "langogne-fs" in str(p)


def test_unknown_device_kind(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "    public_pc:\n", "    pubic_pc:\n")
    problems = problems_of(inv_dir)
    p = only(problems, "unknown device kind 'pubic_pc'")
    assert "did you mean 'public_pc'?" in p.message
    assert p.line == line_no(inv_dir / FLORAC, "pubic_pc:")
    # the hosts it listed are then in no kind group: said too, in the same run
    assert any("in no kind group" in q.message for q in problems)


def test_invalid_timezone(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "site_timezone: Europe/Paris", "site_timezone: Europe/Pariss")
    p = only(problems_of(inv_dir), "invalid timezone")
    assert "did you mean 'Europe/Paris'?" in p.message
    assert p.line == line_no(inv_dir / FLORAC, "Europe/Pariss")


def test_overlapping_ranges(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'mon: ["09:00-12:00", "13:30-17:00"]', 'mon: ["09:00-14:00", "13:30-17:00"]')
    p = only(problems_of(inv_dir), "overlap")
    assert p.line == line_no(inv_dir / FLORAC, "09:00-14:00")
    assert p.field.endswith("site_opening_hours.mon")


def test_reversed_range_suggests_midnight_syntax(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'tue: ["09:00-12:00", "13:30-17:00"]', 'tue: ["12:00-09:00"]')
    p = only(problems_of(inv_dir), "reversed")
    assert "'12:00-09:00+1'" in p.message
    assert p.line == line_no(inv_dir / FLORAC, "12:00-09:00")


def test_range_crossing_midnight_is_valid(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "sat: []", 'sat: ["20:00-01:30+1"]')
    inv = load_ok(inv_dir)
    (r,) = inv.site("florac-fs").hours.week["sat"]
    assert (r.start, r.end) == (20 * 60, 24 * 60 + 90)
    assert str(r) == "20:00-01:30+1"


def test_range_crossing_midnight_overlapping_next_day(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'sun: []', 'sun: ["20:00-10:00+1"]')
    p = only(problems_of(inv_dir), "crosses midnight into mon")
    assert "09:00-12:00" in p.message


def test_unquoted_time_is_explained(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'wed: ["09:00-12:00", "13:30-17:00"]', "wed: [13:30]")
    p = only(problems_of(inv_dir), "quoted string")
    assert "read as numbers" in p.message


def test_missing_required_secret(inv_dir: Path) -> None:
    vault = inv_dir / "group_vars/all/vault.yml"
    plain = decrypt_vault(vault, DEMO_VAULT_PASSWORD)
    plain = "\n".join(x for x in plain.splitlines() if not x.startswith("vault_glpi_app_token"))
    vault.write_text(encrypt_vault(plain, DEMO_VAULT_PASSWORD))
    p = only(problems_of(inv_dir), "required secret missing")
    assert p.field == "vault_glpi_app_token"
    assert p.file == "inventory/group_vars/all/vault.yml"


def test_wrong_vault_password(inv_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLEET_VAULT_PASSWORD", "not-the-password")
    p = only(problems_of(inv_dir), "cannot decrypt the vault")
    assert p.file == "inventory/group_vars/all/vault.yml"


def test_clear_secret_is_refused(inv_dir: Path) -> None:
    gv = inv_dir / "group_vars/printer.yml"
    gv.write_text(gv.read_text().replace('"{{ vault_snmp_community }}"', "public"))
    p = only(problems_of(inv_dir), "secret in clear")
    assert p.file == "inventory/group_vars/printer.yml"
    assert p.value == "***"  # the secret itself is never echoed
    assert "public" not in str(p)


def test_unencrypted_vault_is_refused(inv_dir: Path) -> None:
    (inv_dir / "group_vars/all/vault.yml").write_text("vault_snmp_community: public\n")
    p = only(problems_of(inv_dir), "not encrypted")
    assert "public" not in str(p)


def test_yaml_syntax_error_has_line(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "        site_pmi: false\n", "        site_pmi: [false\n")
    problems = problems_of(inv_dir)
    p = next(p for p in problems if "YAML syntax error" in p.message)
    assert p.file == FLORAC_PATH and p.line is not None


def test_all_errors_reported_together(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "site_timezone: Europe/Paris", "site_timezone: Mars/Olympus")
    edit("sites/langogne-fs.yml", "ansible_host: 10.48.11.11", "ansible_host: 10.48.11.999")
    edit("sites/noumea-ps.yml", "site_pmi: false", "site_pmi: maybe")
    problems = problems_of(inv_dir)
    files = {p.file for p in problems}
    expected = {FLORAC_PATH, "inventory/sites/langogne-fs.yml", "inventory/sites/noumea-ps.yml"}
    assert expected <= files


def test_host_missing_from_kind_group(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "    ups:\n      hosts:\n        florac-fs-ups1:\n", "")
    p = only(problems_of(inv_dir), "in no kind group")
    assert p.value == "florac-fs-ups1"


def test_pmr_only_on_stations(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "ansible_host: 10.48.12.31\n",
         "ansible_host: 10.48.12.31\n          device_pmr: true\n")
    only(problems_of(inv_dir), "only public PCs and bornes can be accessible")


def test_vars_in_kind_group_are_refused(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "    borne:\n      hosts:",
         "    borne:\n      vars:\n        kiosk_x: 1\n      hosts:")
    p = only(problems_of(inv_dir), "kind groups are shared by every site")
    assert "inventory/group_vars/borne.yml" in p.message


def test_unknown_group_vars_file(inv_dir: Path) -> None:
    (inv_dir / "group_vars/bornes.yml").write_text("---\n")
    p = only(problems_of(inv_dir), "group_vars for unknown group 'bornes'")
    assert "did you mean 'borne'?" in p.message


def test_site_group_must_match_id(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "site_id: florac-fs", "site_id: florac")
    p = only(problems_of(inv_dir), "site group must be named 'site_florac'")
    assert p.value == "florac"


# ------------------------------------------------------------------ issue 11: errors ----


def test_impossible_closure_date_is_an_error_with_its_line(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "{date: 2027-01-01,", "{date: 2026-02-30,")
    (p,) = problems_of(inv_dir)
    assert p.file == FLORAC_PATH and p.line == line_no(inv_dir / FLORAC, "2026-02-30")
    assert p.field == "site_florac_fs.vars.site_closures[1].date"
    assert "impossible date '2026-02-30'" in p.message


def test_closure_with_a_time_or_reversed_is_refused(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "{date: 2027-01-01,", "{date: 2027-01-01 10:00:00,")
    edit(FLORAC, "to: 2026-12-26", "to: 2026-12-20")
    problems = problems_of(inv_dir)
    assert any("without a time" in p.message for p in problems)
    assert any("ends (2026-12-20) before it starts (2026-12-24)" in p.message for p in problems)


def test_unquoted_postcode_is_refused_not_read_as_octal(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'site_postcode: "48400"', "site_postcode: 01000")
    (p,) = problems_of(inv_dir)
    assert p.line == line_no(inv_dir / FLORAC, "site_postcode")
    assert p.value == 512  # what YAML 1.1 made of it; the message says why
    assert "in quotes" in p.message and "512" in p.message


def test_postcode_must_be_five_digits(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, 'site_postcode: "48400"', 'site_postcode: "4840"')
    (p,) = problems_of(inv_dir)
    assert "is not 5 digits" in p.message


def test_a_site_with_a_gateway_needs_a_guest_network(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "          guest: 172.16.12.0/24\n", "")
    (p,) = problems_of(inv_dir)
    assert p.field == "site_florac_fs.vars.site_networks.guest"
    assert "florac-fs-gw" in p.message and "guest network" in p.message
    assert p.line == line_no(inv_dir / FLORAC, "site_networks")


def test_one_wrong_network_is_reported_once_in_its_own_file(inv_dir: Path, edit: Edit) -> None:
    # /8 instead of /24: it overlaps every other site's management network
    edit(FLORAC, "management: 10.48.12.0/24", "management: 10.0.0.0/8")
    (p,) = problems_of(inv_dir)
    assert p.file == FLORAC_PATH and p.line == line_no(inv_dir / FLORAC, "10.0.0.0/8")
    assert "and 25 more" in p.message


def test_a_management_network_no_device_fits_is_reported_once(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "management: 10.48.12.0/24", "management: 10.48.21.0/24")
    (p,) = problems_of(inv_dir)  # not once per device
    assert p.field.endswith("site_networks.management")
    assert "none of the site's 9 device addresses" in p.message


def test_yaml_syntax_error_points_at_the_cause_with_a_hint(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, '        site_name: "France Services de Florac-Trois-Rivières"\n',
         '        site_name: "France Services de Florac\n')
    (p,) = problems_of(inv_dir)
    assert p.line == line_no(inv_dir / FLORAC, "site_name:")  # not where the parser gave up
    assert "quote" in p.message and "not closed" in p.message


def test_yaml_tab_and_unquoted_colon_hints(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, '        site_address: "Maison France Services"',
         "        site_address: Maison: annexe")
    (p,) = problems_of(inv_dir)
    assert p.line == line_no(inv_dir / FLORAC, "site_address")
    assert "put the whole value in quotes" in p.message


def test_missing_inventory_directory_names_the_way_out(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fleet.inventory import load_inventory

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEET_INVENTORY", raising=False)
    with pytest.raises(InventoryError) as info:
        load_inventory()
    message = str(info.value)
    assert str(tmp_path / "inventory") in message
    assert "-i DIR" in message and "FLEET_INVENTORY" in message


def test_secret_in_a_role_variable_is_not_echoed(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "        site_pmi: false\n",
         "        site_pmi: false\n        snmp_v3_auth_pass: hunter2hunter2\n")
    (p,) = problems_of(inv_dir)
    assert "secret in clear" in p.message and p.value == "***"
    assert "hunter2" not in str(p)


def test_vars_in_the_wrong_place_say_where_they_belong(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "        site_pmi: false\n", "        site_pmi: false\n        device_pmr: true\n")
    (p,) = problems_of(inv_dir)
    assert p.message == "unknown key 'device_pmr' (device_* variables belong to a host)"


def test_french_weekday_gets_the_english_key(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "sat: []", "samedi: []")
    (p,) = problems_of(inv_dir)
    assert p.message == "unknown key 'samedi' (did you mean 'sat'?)"
    assert p.line == line_no(inv_dir / FLORAC, "samedi")


# -------------------------------------------------------------- lookup and search ----


def test_unknown_site_is_worded_once_with_suggestions(inv_dir: Path) -> None:
    from fleet.errors import NotFoundError

    inv = load_ok(inv_dir)
    with pytest.raises(NotFoundError) as info:
        inv.site("florac-f")
    assert str(info.value).startswith("unknown site 'florac-f' (did you mean 'florac-fs'")
    assert info.value.suggestions[0] == "florac-fs"
    assert isinstance(info.value, KeyError)  # callers catching KeyError still work
    with pytest.raises(NotFoundError, match=r"'noumea-ps'"):
        inv.site("Nouméa")  # a commune: the site there is suggested
    with pytest.raises(NotFoundError) as nothing:
        inv.site("zzzz")
    assert str(nothing.value) == "unknown site 'zzzz'"


def test_search_ignores_accents_case_and_punctuation(inv_dir: Path) -> None:
    inv = load_ok(inv_dir)
    assert [s.id for s in inv.search("Noumea").sites] == ["noumea-ps"]
    assert [s.id for s in inv.search("NOUMÉA").sites] == ["noumea-ps"]
    assert {s.id for s in inv.search("florac").sites} == {"florac-fs", "florac-sp"}
    assert [s.id for s in inv.search("st germain").sites] == ["mairie-st-germain-calberte"]
    assert [s.id for s in inv.search("48400 services").sites] == ["florac-fs"]
    assert [d.hostname for d in inv.search("florac-fs-pc1").devices] == ["florac-fs-pc1"]
    assert not inv.search("")
    assert not inv.search("Tombouctou")


def test_search_finds_a_device_by_serial(inv_dir: Path, edit: Edit) -> None:
    edit(FLORAC, "          ansible_host: 10.48.12.31\n",
         '          ansible_host: 10.48.12.31\n          device_serial: "E78123K9N"\n')
    inv = load_ok(inv_dir)
    assert [d.hostname for d in inv.search("e78123k9n").devices] == ["florac-fs-prn1"]
    assert inv.device("florac-fs-prn1").serial == "E78123K9N"
