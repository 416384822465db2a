"""The CLI: one-line red errors, exit codes, --json, no tracebacks; new-site scaffolding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet.inventory import load_inventory
from tests.inventory.conftest import Edit

FLEET = [sys.executable, "-m", "fleet.cli.main"]


def run(*args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env["NO_COLOR"] = "1"
    env["FLEET_LANG"] = "en"  # the CLI speaks French by default
    env["COLUMNS"] = str(columns)
    return subprocess.run([*FLEET, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_ok_json(inv_dir: Path) -> None:
    r = run("inventory", "check", "--json", cwd=inv_dir.parent)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["sites"] == 29 and data["demo_vault"] is True
    assert "public demo password" not in r.stdout


def test_check_reports_every_error_one_line_each(inv_dir: Path, edit: Edit) -> None:
    edit("sites/florac-fs.yml", "ansible_host: 10.48.12.11", "ansible_host: 10.48.12.300")
    edit("sites/florac-fs.yml", "site_timezone: Europe/Paris", "site_timezone: Europe/Pariss")
    r = run("inventory", "check", cwd=inv_dir.parent)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 2, r.stderr
    assert all(x.startswith("error: inventory/sites/florac-fs.yml:") for x in lines)
    assert "Traceback" not in r.stderr
    assert "2 problems found" in r.stderr


def test_show_site_json(inv_dir: Path) -> None:
    r = run("inventory", "show", "florac-fs", "--json", cwd=inv_dir.parent)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["id"] == "florac-fs"
    assert {d["kind"] for d in data["devices"]} >= {"public_pc", "borne", "gateway", "printer"}
    assert data["opening_hours"]["sat"] == []
    # whatever the hour the test runs at: open now -> when it closes, else when it opens
    assert (data["next_closing"] if data["open_now"] else data["next_opening"]) is not None
    assert "community" not in r.stdout and "demo-community" not in r.stdout


def test_show_all_json(inv_dir: Path) -> None:
    r = run("inventory", "show", "--json", cwd=inv_dir.parent)
    assert r.returncode == 0
    assert len(json.loads(r.stdout)["sites"]) == 29


def test_show_unknown_site(inv_dir: Path) -> None:
    r = run("inventory", "show", "florac-f", cwd=inv_dir.parent)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[0] == (
        "error: unknown site 'florac-f' (did you mean 'florac-fs' or 'florac-sp'?)"
    )


def test_check_json_reports_problems_as_json(inv_dir: Path, edit: Edit) -> None:
    edit("sites/florac-fs.yml", 'site_postcode: "48400"', "site_postcode: 48400")
    r = run("inventory", "check", "--json", cwd=inv_dir.parent)
    assert r.returncode == 2
    data = json.loads(r.stdout)
    assert data["ok"] is False
    (p,) = data["problems"]
    assert p["file"] == "inventory/sites/florac-fs.yml" and p["line"] == 12
    assert p["field"] == "site_florac_fs.vars.site_postcode" and p["value"] == 48400


def test_missing_inventory_directory_is_one_line_with_the_way_out(tmp_path: Path) -> None:
    r = run("inventory", "check", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert str(tmp_path / "inventory") in first and "-i DIR" in first
    assert "FLEET_INVENTORY" in first


def test_site_ids_are_never_cut_at_80_columns(inv_dir: Path) -> None:
    inv = load_inventory(inv_dir)
    for columns in (80, 200):
        r = run("inventory", "show", cwd=inv_dir.parent, columns=columns)
        assert r.returncode == 0, r.stderr
        assert all(len(line) <= columns for line in r.stdout.splitlines())
        rows = [line for line in r.stdout.splitlines()[1:] if not line.startswith("  ")]
        assert [line.split()[0] for line in rows] == [s.id for s in inv.sites]
    r = run("inventory", "show", "mairie-st-germain-calberte", cwd=inv_dir.parent, columns=80)
    hosts = [line.split()[0] for line in r.stdout.splitlines() if line.startswith(" mairie-")]
    assert hosts and all(h.startswith("mairie-st-germain-calberte-") for h in hosts)


def test_search_without_accents(inv_dir: Path) -> None:
    r = run("inventory", "search", "Noumea", "--json", cwd=inv_dir.parent)
    assert r.returncode == 0, r.stderr
    assert [s["id"] for s in json.loads(r.stdout)["sites"]] == ["noumea-ps"]
    r = run("inventory", "search", "Tombouctou", cwd=inv_dir.parent)
    assert r.returncode == 1 and "nothing matches" in r.stderr


def test_bad_cli_argument_is_one_line(inv_dir: Path) -> None:
    r = run("inventory", "show", "--jsn", cwd=inv_dir.parent)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "--jsn" in r.stderr


NEW = [
    "inventory", "new-site", "--id", "ispagnac-cb", "--name", "Cyber-base d'Ispagnac",
    "--kind", "cyber_base", "--commune", "Ispagnac", "--postcode", "48320",
    "--lat", "44.37", "--lon", "3.53", "--management", "10.48.90.0/24",
    "--guest", "172.16.90.0/24", "--referent-name", "Animatrice", "--sav-name", "SAV 48",
    "--hours", "tue-sat=10:00-12:00,14:00-18:30;fri=18:00-00:30+1", "--pcs", "3", "--ups",
]


def test_new_site_scaffolds_a_valid_site(inv_dir: Path) -> None:
    r = run(*NEW, cwd=inv_dir.parent)
    assert r.returncode == 0, r.stderr
    inv = load_inventory(inv_dir)
    site = inv.site("ispagnac-cb")
    assert site.kind.value == "cyber_base"
    assert [d.hostname for d in site.devices if d.kind.value == "public_pc"] == [
        "ispagnac-cb-pc1", "ispagnac-cb-pc2", "ispagnac-cb-pc3",
    ]
    assert sum(d.pmr for d in site.devices) == 1
    assert str(site.hours.week["fri"][0]) == "18:00-00:30+1"
    assert site.gateway is not None and str(site.gateway.ip) == "10.48.90.1"


def test_new_site_refuses_to_break_the_inventory(inv_dir: Path) -> None:
    args = [a if a != "10.48.90.0/24" else "10.48.12.0/24" for a in NEW]  # Florac's network
    r = run(*args, cwd=inv_dir.parent)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --management '10.48.12.0/24': overlaps florac-fs's")
    assert not (inv_dir / "sites/ispagnac-cb.yml").exists()
    load_inventory(inv_dir)  # still valid


def test_new_site_maps_errors_back_to_the_flags(inv_dir: Path) -> None:
    swap = {"48320": "4832", "44.37": "95", "172.16.90.0/24": "10.48.90.128/25"}
    r = run(*[swap.get(a, a) for a in NEW], cwd=inv_dir.parent)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert "error: --postcode '4832': postcode '4832' is not 5 digits" in lines[0] + "".join(lines)
    assert any(x.startswith("error: --lat '95'") or x.startswith("error: --lat 95.0")
               for x in lines), lines
    assert any(x.startswith("error: --guest '10.48.90.128/25': guest network overlaps")
               for x in lines), lines
    assert "inventory/sites" not in r.stderr  # the file was removed: say the flags
    assert not (inv_dir / "sites/ispagnac-cb.yml").exists()


def test_new_site_with_a_gateway_needs_guest(inv_dir: Path) -> None:
    args = [a for a in NEW if a not in ("--guest", "172.16.90.0/24")]
    r = run(*args, cwd=inv_dir.parent)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --guest: the site has a gateway (ispagnac-cb-gw)")
    r = run(*args, "--no-gateway", cwd=inv_dir.parent)
    assert r.returncode == 0, r.stderr


def test_new_site_bad_id_names_the_flag(inv_dir: Path) -> None:
    args = [a if a != "ispagnac-cb" else "Ispagnac CB" for a in NEW]
    r = run(*args, cwd=inv_dir.parent)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --id 'Ispagnac CB': site id must be lowercase")


def test_new_site_bad_hours_flag(inv_dir: Path) -> None:
    args = [a if not a.startswith("tue-sat") else "tue-sat=12:00-10:00" for a in NEW]
    r = run(*args, cwd=inv_dir.parent)
    assert r.returncode == 2
    assert r.stderr.startswith("error: --hours: opening range '12:00-10:00' is reversed")
    assert not (inv_dir / "sites/ispagnac-cb.yml").exists()


def test_new_site_does_not_overwrite(inv_dir: Path) -> None:
    assert run(*NEW, cwd=inv_dir.parent).returncode == 0
    r = run(*NEW, cwd=inv_dir.parent)
    assert r.returncode == 2 and "already exists" in r.stderr
