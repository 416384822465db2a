"""The premises checklist and the weekly counting grid: data, files, one-line errors, storage."""
# ruff: noqa: E501  (the table of bad files reads best one case a line)

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fleet.audit.entries import (
    AuditInputError,
    answers_of,
    checklist,
    grid,
    grid_weeks,
    parse_file,
    store_entries,
)
from fleet.audit.period import parse_month
from fleet.inventory.models import Inventory
from fleet.store import Store

NOV = parse_month("2026-11")
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def full_items(**overrides: str) -> str:
    lines = []
    for item in checklist().items:
        lines.append(f"  {item.id}: {overrides.get(item.id, 'ok')}")
    return "items:\n" + "\n".join(lines) + "\n"


def test_checklist_data_holds_what_the_source_documents_ask() -> None:
    ids = {i.id for i in checklist().items}
    assert {"mobilier", "proprete", "information_affichee", "charte_qualite", "poste_pmr_acces",
            "etiquetage", "carnet_incident"} <= ids
    assert all(i.group in checklist().groups and i.source for i in checklist().items)
    assert {"caf", "cpam", "ants", "impots", "france_travail", "msa"} <= set(grid().partners)


def test_yaml_checklist_and_grid_round_trip(tmp_path: Path, store: Store, inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    f = tmp_path / "novembre.yml"
    f.write_text(
        "site: florac-fs\nmonth: 2026-11\n"
        + full_items(proprete='{status: non, comment: "poussière sur les écrans"}', questionnaire="sans objet")
        + "weeks:\n"
        "  2026-11-02:\n    people: 31\n    services:\n      caf: {demarche: 5, information: 2}\n"
        "      ants: {demarche: 7}\n"
        "  2026-11-09:\n    people: 27\n",
        encoding="utf-8",
    )
    entries = parse_file(f, site, NOV)
    store_entries(store, site, NOV, entries, by="auditrice", now=NOW)
    got = answers_of(store, site.id, NOV)
    assert got["proprete"].status == "ko" and got["proprete"].comment == "poussière sur les écrans"
    assert got["questionnaire"].status == "na" and got["mobilier"].status == "ok"
    weeks = grid_weeks(store, [site.id], date(2026, 11, 1), date(2026, 11, 30))
    assert [(w.week, w.people) for w in weeks] == [(date(2026, 11, 2), 31), (date(2026, 11, 9), 27)]
    assert dict(weeks[0].services) == {("caf", "demarche"): 5, ("caf", "information"): 2, ("ants", "demarche"): 7}
    # entered again (a correction): replaced, not added
    store_entries(store, site, NOV, entries, by="auditrice", now=NOW)
    assert grid_weeks(store, [site.id], date(2026, 11, 1), date(2026, 11, 30))[0].people == 31


def test_items_that_do_not_apply_are_sans_objet(tmp_path: Path, inventory: Inventory) -> None:
    site = next(s for s in inventory.sites if not any(d.pmr for d in s.devices))
    f = tmp_path / "c.yml"
    needs_pmr = {i.id for i in checklist().items if i.needs == "pmr"}
    body = "items:\n" + "".join(f"  {i.id}: ok\n" for i in checklist().items
                                if i.id not in needs_pmr and i.applies(site))
    f.write_text(body, encoding="utf-8")
    entries = parse_file(f, site, NOV)
    by_id = {a.item: a for a in entries.answers}
    assert all(by_id[i].status == "na" for i in needs_pmr)


def test_csv_files_french_headers(tmp_path: Path, inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    f = tmp_path / "checklist.csv"
    f.write_text("point;statut;commentaire\n" + "".join(f"{i.id};oui;\n" for i in checklist().items),
                 encoding="utf-8")
    assert all(a.status == "ok" for a in parse_file(f, site, NOV).answers)
    g = tmp_path / "grille.csv"
    g.write_text("semaine;organisme;service;nombre\n2026-11-16;caf;visio;3\n2026-11-16;;people;12\n"
                 "2026-11-16;msa;information;1\n", encoding="utf-8")
    (week,) = parse_file(g, site, NOV).weeks
    assert week.people == 12 and dict(week.services) == {("caf", "visio"): 3, ("msa", "information"): 1}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (full_items(mobilier="peut-être"), ":2: items.mobilier: status 'peut-être' is not one of ok, ko, na"),
        (full_items() + "  mobilie: ok\n", "items.mobilie: unknown checklist item (did you mean 'mobilier'?)"),
        ("items:\n  mobilier: ok\n", ": items: items missing: proprete, confidentialite"),
        ("weeks:\n  2026-11-03:\n    people: 3\n", ":2: weeks.2026-11-03: not a Monday: write the week's Monday, 2026-11-02"),
        ("weeks:\n  2026-10-26:\n    people: 3\n", "this week belongs to 2026-10"),
        ("weeks:\n  2026-11-02:\n    people: Mme Dupont\n", ":2: weeks.2026-11-02.people: must be a whole number >= 0 (a count, never a name)"),
        ("weeks:\n  2026-11-02:\n    services:\n      caff: {demarche: 1}\n", ":4: weeks.2026-11-02.caff: unknown partner organisation (did you mean 'caf'?)"),
        ("weeks:\n  2026-11-02:\n    services:\n      caf: {demarche: -2}\n", ":4: weeks.2026-11-02.caf.demarche: must be a whole number"),
        ("weeks:\n  2026-11-02:\n    names: [Jean]\n", ":2: weeks.2026-11-02: only 'people' and 'services' are allowed (counts only)"),
        ("site: mende-pref\nitems: {}\n", ":1: site: this file is for another site than florac-fs"),
        ("items:\n  mobilier: ok\n  - x\n", "YAML syntax error"),
    ],
)
def test_bad_files_give_one_line_errors_with_file_and_line(
    tmp_path: Path, inventory: Inventory, store: Store, body: str, expected: str
) -> None:
    site = inventory.site("florac-fs")
    f = tmp_path / "bad.yml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(AuditInputError) as info:
        parse_file(f, site, NOV)
    lines = [str(p) for p in info.value.problems]
    assert any(expected in line and line.startswith(str(f)) for line in lines), lines
    assert all("\n" not in line for line in lines)
    assert answers_of(store, site.id, NOV) == {}  # nothing stored


def test_bad_csv_rows_name_their_line(tmp_path: Path, inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    g = tmp_path / "grille.csv"
    g.write_text("week,partner,service,count\n2026-11-02,caf,demarche,2\n2026-11-02,caf,visio,x\n"
                 "2026-11-02,caf,demarche,4\n", encoding="utf-8")
    with pytest.raises(AuditInputError) as info:
        parse_file(g, site, NOV)
    assert [str(p).split("/")[-1] for p in info.value.problems] == [
        "grille.csv:4: weeks.2026-11-02.caf.demarche: given twice for this week",
        "grille.csv:3: weeks.2026-11-02.caf.visio: must be a whole number >= 0 (a count, never a name)",
    ]
    h = tmp_path / "h.csv"
    h.write_text("nom;prénom\nDupont;Jean\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match=r"h.csv:1: header: unknown columns"):
        parse_file(h, site, NOV)
