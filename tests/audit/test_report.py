"""The report renders (HTML, PDF, CSV), compares with last month, is signed and verifiable."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleet.audit.entries import checklist, parse_file, store_entries
from fleet.audit.period import parse_month
from fleet.audit.run import AuditOptions, audit_site
from fleet.audit.signing import Signer, vault_key, verify
from fleet.audit.usage import import_dir
from fleet.checks.model import CheckReport, CheckResult, HostExpect
from fleet.inventory.models import Inventory
from fleet.store import Store, open_store, record_deploy
from fleet.store.deploys import HostResult
from fleet.store.models import Incident, IncidentEvent, StateChange

REPO = Path(__file__).resolve().parents[2]
NOV = parse_month("2026-11")
CLOCK = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only here: rendering does not depend on the backend (the queries' contract runs
    on both backends in the other audit tests), and a PDF takes a few seconds."""
    opened = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield opened
    opened.dispose()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(vault_key(REPO / "inventory"), "auditrice-test")


def fake_checks(failing: dict[str, tuple[str, str, tuple[str, ...]]], unreachable: dict[str, str]):
    """A checks runner standing in for SSH: one passing check per host, plus the failures
    given ({host: (module, check, refs)}) and hosts that could not be reached."""

    def run(targets: list[HostExpect], **_: Any) -> CheckReport:
        results = []
        for t in targets:
            if t.hostname in unreachable:
                continue
            results.append(
                CheckResult(t.hostname, "ssh", "root_login_refused", "passed", ("ANSSI-BP-028 R21",))
            )
            bad = failing.get(t.hostname)
            if bad is None or bad[:2] != ("ssh", "password_auth_disabled"):
                results.append(
                    CheckResult(
                        t.hostname,
                        "ssh",
                        "password_auth_disabled",
                        "passed",
                        ("ANSSI-BP-028 R23", "CIS 5.2.8"),
                    )
                )
            if bad is not None:
                module, check, refs = bad
                results.append(CheckResult(t.hostname, module, check, "failed", refs, "assert 'yes' == 'no'"))
        return CheckReport(tuple(results), dict(unreachable))

    return run


def seed(store: Store, inventory: Inventory, tmp_path: Path) -> None:
    site = inventory.site("florac-fs")
    t = lambda d, h, m=0: datetime(2026, 11, d, h, m, tzinfo=UTC)  # noqa: E731
    with store.write() as s:
        s.add(
            StateChange(
                device="florac-fs-pc2",
                site_id=site.id,
                check="reachability",
                at=t(2, 7),
                from_status="unknown",
                to_status="up",
            )
        )
        s.add(
            StateChange(
                device="florac-fs-pc2",
                site_id=site.id,
                check="reachability",
                at=t(4, 9),
                from_status="up",
                to_status="down",
            )
        )
        s.add(
            StateChange(
                device="florac-fs-pc2",
                site_id=site.id,
                check="reachability",
                at=t(4, 12),
                from_status="down",
                to_status="up",
            )
        )
        inc = Incident(
            device="florac-fs-borne1",
            site_id=site.id,
            check="reachability",
            status="resolved",
            reason="timeout",
            severity="major",
            title="florac-fs-borne1 ne répond plus",
            opened_at=t(10, 9),
            updated_at=t(10, 11),
            acknowledged_at=t(10, 9, 20),
            acknowledged_by="hotline",
            resolved_at=t(10, 11),
            resolved_by="monitor",
        )
        inc.events.append(
            IncidentEvent(
                at=t(10, 9, 30), kind="note", actor="hotline", text="écran tactile figé, redémarré à distance"
            )
        )
        s.add(inc)
        s.add(
            Incident(
                device="florac-fs-prn1",
                site_id=site.id,
                check="toner",
                status="open",
                reason="low",
                severity="minor",
                title="florac-fs-prn1 : toner bas",
                opened_at=t(27, 14),
                updated_at=t(27, 14),
            )
        )
    record_deploy(
        store,
        site_id=site.id,
        started_at=t(3, 15),
        finished_at=t(3, 15, 9),
        user="tech",
        outcome="changed",
        hosts=[HostResult("florac-fs-pc1", ok=40, changed=2)],
    )
    folder = tmp_path / "wipes"
    folder.mkdir()
    lines = []
    for day in range(2, 28):
        for k in range(day % 4 + 1):
            lines.append(
                json.dumps(
                    {
                        "time": t(day, 9 + k).isoformat(),
                        "trigger": "logout",
                        "outcome": "ok",
                        "session_seconds": 600 + 300 * k,
                    }
                )
            )
    lines.append(json.dumps({"time": t(20, 18).isoformat(), "trigger": "nightly", "outcome": "failed"}))
    (folder / "wipe.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_dir(store, site, "florac-fs-pc1", folder, CLOCK)
    fill = tmp_path / "novembre.yml"
    items = "".join(
        f"  {i.id}: ok\n" for i in checklist().items if i.id not in ("proprete", "charte_qualite")
    )
    fill.write_text(
        "items:\n" + items + '  proprete: {status: ko, comment: "écrans poussiéreux"}\n'
        "  charte_qualite: non\nweeks:\n  2026-11-02:\n    people: 31\n    services:\n"
        "      caf: {demarche: 5, information: 2}\n      ants: {demarche: 7}\n"
        "  2026-11-09: {people: 27, services: {france_travail: {visio: 3}}}\n",
        encoding="utf-8",
    )
    store_entries(store, site, NOV, parse_file(fill, site, NOV), by="auditrice", now=CLOCK)


def run(store: Store, inventory: Inventory, out: Path, signer: Signer, month: Any = NOV, **kw: Any):
    site = inventory.site("florac-fs")
    options = AuditOptions(repo=REPO, out_dir=out, canary=False, collect_usage=False)
    runner = fake_checks(
        kw.get(
            "failing", {"florac-fs-pc2": ("ssh", "password_auth_disabled", ("ANSSI-BP-028 R23", "CIS 5.2.8"))}
        ),
        kw.get("unreachable", {"florac-fs-borne1": "unreachable over SSH"}),
    )
    return audit_site(
        inventory,
        site,
        month,
        store=store,
        options=options,
        signer=signer,
        checks_runner=runner,
        clock=lambda: CLOCK,
    )


@needs_poppler
def test_pdf_has_pages_site_month_and_each_failed_check(
    store: Store, inventory: Inventory, tmp_path: Path, signer: Signer
) -> None:
    seed(store, inventory, tmp_path)
    done = run(store, inventory, tmp_path / "out", signer)
    r = done.report
    assert r.verdict == "red"
    failed = {(f.target, f.item) for f in r.failures}
    assert failed == {
        ("florac-fs-pc2", "ssh/password_auth_disabled"),
        ("florac-fs-borne1", "ssh"),
        ("florac-fs", "proprete"),
        ("florac-fs", "charte_qualite"),
        ("florac-fs-pc1", "wipes"),
    }
    pdf = done.files["pdf"]
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "France Services de Florac-Trois-Rivières" in flat and "novembre 2026" in flat
    for f in r.failures:
        assert f.label in flat, f.label
    assert "ANSSI-BP-028 R23" in flat and "unreachable over SSH" in flat
    assert "écran tactile figé" in flat  # the incident notebook


def test_csv_lists_every_check(store: Store, inventory: Inventory, tmp_path: Path, signer: Signer) -> None:
    seed(store, inventory, tmp_path)
    done = run(store, inventory, tmp_path / "out", signer)
    rows = list(csv.reader(done.files["csv"].read_text("utf-8").splitlines(), delimiter=";"))
    assert rows[0][:3] == ["site", "mois", "domaine"]
    assert len(rows) - 1 == len(done.report.findings)
    keyed = {(row[3], row[4]): row for row in rows[1:]}
    assert keyed[("florac-fs-pc2", "ssh/password_auth_disabled")][6] == "non conforme"
    assert keyed[("florac-fs-pc2", "ssh/password_auth_disabled")][7] == "ANSSI-BP-028 R23 CIS 5.2.8"
    assert keyed[("florac-fs-pc1", "ssh/root_login_refused")][6] == "conforme"


def test_verify_accepts_the_report_and_rejects_one_changed_byte(
    store: Store, inventory: Inventory, tmp_path: Path, signer: Signer
) -> None:
    done = run(store, inventory, tmp_path / "out", signer)
    trusted = signer.public
    for kind, path in done.files.items():
        v = verify(path, store=store, trusted=trusted)
        assert v.intact and v.signed_by == "auditrice-test" and v.trusted_key, (kind, v.message)
        assert "intact" in v.message
        # moved elsewhere, without the store: the sidecar and the vault's key suffice
        elsewhere = tmp_path / "archive" / kind
        elsewhere.mkdir(parents=True)
        shutil.copy2(path, elsewhere / path.name)
        shutil.copy2(path.with_name(path.name + ".sig.json"), elsewhere)
        assert verify(elsewhere / path.name, store=None, trusted=trusted).intact
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        bad = verify(path, store=store, trusted=trusted)
        assert not bad.intact and "MODIFIÉ" in bad.message, bad.message
    # a forged sidecar (the file changed, then re-signed with another key) is not trusted
    from fleet.audit.signing import generate_pem, load_pem, sign_file

    other = Signer(load_pem(generate_pem(), "test"), "quelqu'un")
    pdf = done.files["pdf"]
    sign_file(other, pdf, kind="pdf", site="florac-fs", month="2026-11", now=CLOCK)
    forged = verify(pdf, store=store, trusted=trusted)
    assert not forged.intact and "clé n'est pas celle du coffre" in forged.message


def test_second_month_compares_with_the_first(
    store: Store, inventory: Inventory, tmp_path: Path, signer: Signer
) -> None:
    seed(store, inventory, tmp_path)
    run(store, inventory, tmp_path / "nov", signer)
    dec = run(
        store,
        inventory,
        tmp_path / "dec",
        signer,
        month=parse_month("2026-12"),
        failing={"florac-fs-pc1": ("sysctl", "kernel_hardening", ("ANSSI-BP-028 R9",))},
        unreachable={},
    )
    trends = {c.key: c.trend for c in dec.report.changes()}
    assert trends["verification:florac-fs-pc2:ssh/password_auth_disabled"] == "better"
    assert trends["acces:florac-fs-borne1:ssh"] == "better"
    assert trends["verification:florac-fs-pc1:sysctl/kernel_hardening"] == "new"
    assert trends["verification:florac-fs-pc1:ssh/root_login_refused"] == "same"
    assert trends["effacement:florac-fs-pc1:wipes"] == "better"  # no failed wipe in December
    html = dec.files["html"].read_text("utf-8")
    assert "Comparaison avec le mois précédent" in html and "mieux" in html
    figs = {c.label: c for c in dec.report.figure_changes()}
    assert figs["Incidents ouverts"].before == 2 and figs["Incidents ouverts"].after == 0
    assert figs["Incidents ouverts"].trend == "better"


def test_labels_go_through_the_translator(
    store: Store, inventory: Inventory, tmp_path: Path, signer: Signer
) -> None:
    from fleet.audit.report import render_site

    done = run(store, inventory, tmp_path / "out", signer)
    marked = render_site(done.report, lambda s: f"[[{s}]]")
    assert "[[Check-list des locaux]]" in marked and "[[Sessions par semaine]]" in marked
    assert "[[Vérifications automatiques]]" in marked  # labels built in Python go through it too


@needs_poppler
def test_network_report_lists_each_site_and_its_failures(
    store: Store, inventory: Inventory, tmp_path: Path, signer: Signer
) -> None:
    from fleet.audit.report import NetworkReport
    from fleet.audit.run import write_network

    seed(store, inventory, tmp_path)
    florac = run(store, inventory, tmp_path / "out", signer).report
    options = AuditOptions(repo=REPO, out_dir=tmp_path / "out")
    net = NetworkReport(NOV, CLOCK, False, (florac,), {"mende-pref": "the lab is not up for mende-pref"})
    _, files, _ = write_network(
        net, store=store, options=options, signer=signer, started=CLOCK, clock=lambda: CLOCK
    )
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(files["pdf"]), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Audit mensuel du réseau" in text and "novembre 2026" in text
    assert "France Services de Florac-Trois-Rivières" in text and "mende-pref" in text
    assert "ANSSI-BP-028 R23" in text
    assert verify(files["pdf"], store=store, trusted=signer.public).intact


def test_a_skip_is_not_a_pass_and_an_unreachable_host_is_a_finding() -> None:
    from fleet.audit.run import check_findings

    report = CheckReport(
        (
            CheckResult("pc1", "session_wipe", "last_wipe_ok", "skipped", (), "Skipped: no wipe yet"),
            # the runner reports what does not concern a host as not_applicable (issue 10)
            CheckResult("gw", "ssh", "sshd_setting", "not_applicable", (),
                        "not applicable: not a public_pc/borne"),
            CheckResult("pc1", "public_pc", "printer_queue", "not_applicable", (),
                        "not applicable: the site has no printer"),
            # a skip that reads like "not applicable" is still a skip: nothing was proven
            CheckResult("pc1", "public_pc", "toner", "skipped", (), "Skipped: the site has no printer"),
            CheckResult("pc1", "ssh", "sshd_setting", "passed", ("CIS 5.1.x",)),
        ),
        {"borne1": "unreachable over SSH"},
    )
    by = {(f.target, f.item): f.status for f in check_findings(report)}
    assert by[("pc1", "session_wipe/last_wipe_ok")] == "skipped"
    assert by[("gw", "ssh/sshd_setting")] == "na" and by[("pc1", "public_pc/printer_queue")] == "na"
    assert by[("pc1", "public_pc/toner")] == "skipped"
    assert by[("borne1", "ssh")] == "ko" and by[("pc1", "ssh")] == "ok"
