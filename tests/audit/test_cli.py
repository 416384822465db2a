"""The audit and stats commands end to end on a SQLite store (no lab): parse, call, print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.audit.entries import checklist
from fleet.cli.main import main

REPO = Path(__file__).resolve().parents[2]
INV = str(REPO / "inventory")


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def wipes(folder: Path, host: str, n: int) -> None:
    (folder / host).mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"time": f"2026-11-{3 + i:02d}T09:00:00+00:00", "trigger": "logout", "outcome": "ok",
                         "session_seconds": 900}) for i in range(n)]
    (folder / host / "wipe.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_checklist_run_verify_collect_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    fill = tmp_path / "novembre.csv"
    fill.write_text("item;statut;commentaire\n" + "".join(f"{i.id};oui;\n" for i in checklist().items),
                    encoding="utf-8")
    code, out, err = cli(["audit", "checklist", "florac-fs", "--month", "2026-11", "--from", str(fill),
                          "--db", db, "-i", INV], capsys)
    assert code == 0, err
    grid = tmp_path / "grille.yml"
    grid.write_text("weeks:\n  2026-11-02: {people: 12, services: {caf: {demarche: 4}}}\n", encoding="utf-8")
    assert cli(["audit", "checklist", "florac-fs", "--month", "2026-11", "--from", str(grid), "--db", db,
                "-i", INV], capsys)[0] == 0
    folder = tmp_path / "copies"
    wipes(folder, "florac-fs-pc1", 5)
    for expected_new in (5, 0):  # collected twice: counted once
        code, out, err = cli(["audit", "collect", "florac-fs", "--from-dir", str(folder), "--db", db,
                              "-i", INV, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)[0]["imported"][0]["counted"] == expected_new
    outdir = tmp_path / "reports"
    code, out, err = cli(["audit", "run", "florac-fs", "--month", "2026-11", "--no-checks", "--no-collect",
                          "--out", str(outdir), "--db", db, "-i", INV, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    (site,) = data["sites"]
    assert site["verdict"] == "incomplete"  # the checks were not run
    assert site["usage"]["sessions"] == 5
    pdf = Path(site["files"]["pdf"])
    code, out, err = cli(["audit", "verify", str(pdf), "--db", db, "-i", INV], capsys)
    assert code == 0 and "intact" in out and "florac-fs 2026-11" in out, out + err
    pdf.write_bytes(pdf.read_bytes()[:-10] + b"0" + pdf.read_bytes()[-9:])
    code, out, err = cli(["audit", "verify", str(pdf), "--db", db, "-i", INV], capsys)
    assert code == 1 and "MODIFIÉ" in out, out + err
    chart = tmp_path / "sessions.png"
    code, out, err = cli(["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--site", "florac-fs",
                          "--db", db, "-i", INV, "--json", "--chart", str(chart)], capsys)
    assert code == 0, err
    (st,) = json.loads(out)["sites"]
    assert st["sessions"] == 5 and st["people"] == 12
    assert st["services_per_partner"] == {"CAF": {"Accompagnement à une démarche en ligne": 4}}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = cli(["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--site", "florac-fs",
                          "--db", db, "-i", INV, "--csv"], capsys)
    assert code == 0 and out.startswith("site;semaine;sessions;personnes_reçues;services_rendus\n")
    assert "florac-fs;2026-11-02;5;12;4" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "run", "florac-fs", "--month", "2026-13"], "--month '2026-13': expected YYYY-MM"),
        (["audit", "run", "--month", "2026-11"], "give one SITE, or --all"),
        (["audit", "run", "nowhere", "--month", "2026-11"], "SITE 'nowhere': no such site"),
        (["stats", "--from", "2026-11-31", "--to", "2026-12-01"], "--from '2026-11-31': expected a date"),
        (["stats", "--from", "2026-12-01", "--to", "2026-11-01"], "--to 2026-11-01: must not be before"),
        (["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--chart", "x.pdf"], "--chart 'x.pdf'"),
        (["audit", "verify", "/nonexistent.pdf"], "/nonexistent.pdf: no such file"),
        (["audit", "run", "florac-fs", "--month", "2026-11", "--lab"], "the lab is not up for florac-fs"),
        (["audit", "collect", "florac-fs", "--lab"], "the lab is not up for florac-fs"),
    ],
)
def test_errors_are_one_line(argv: list[str], message: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_DB_URL", f"sqlite:///{tmp_path / 'e.sqlite'}")
    monkeypatch.setenv("FLEET_INVENTORY", INV)
    monkeypatch.setenv("FLEET_LAB_ROOT", str(tmp_path / "no-lab"))
    monkeypatch.setenv("FLEET_STATE_DIR", str(tmp_path / "state"))
    code, _, err = cli(argv, capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_a_bad_checklist_file_lists_each_problem_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("items:\n  mobilier: peut-être\n  propre: ok\n", encoding="utf-8")
    code, _, err = cli(["audit", "checklist", "florac-fs", "--month", "2026-11", "--from", str(bad),
                        "--db", f"sqlite:///{tmp_path / 'f.sqlite'}", "-i", INV], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{bad}:2: items.mobilier: status 'peut-être'" in err
    assert f"{bad}:3: items.propre: unknown checklist item (did you mean 'proprete'?)" in err
