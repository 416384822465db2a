"""The dashboard and `fleet status --json` show the same status for the same store: the CLI
runs for real (a subprocess on the store's file) and its JSON is compared with the page's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from fleet.store import open_store
from fleet.web import WebConfig, create_app
from tests.incidents.samples import REPO, demo_inventory
from tests.web.conftest import log_in
from tests.web.world import NOW, Clock, World


def _cli(*args: str, db: str) -> object:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet.cli.main",
            "status",
            *args,
            "--json",
            "--db",
            db,
            "-i",
            str(REPO / "inventory"),
            "--clock",
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _rows(html: str) -> dict[str, dict[str, str]]:
    rows = {}
    for m in re.finditer(r"<tr data-site=\"([^\"]+)\"([^>]*)>", html):
        attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(2)))
        rows[m.group(1)] = attrs
    return rows


def test_the_overview_shows_what_fleet_status_json_says(world: World, tmp_path: Path) -> None:
    url = world.copy(tmp_path / "store.sqlite")
    cli = _cli(db=url)
    store = open_store(url)
    try:
        # the inventory the CLI reads (the demo one), the store the CLI reads
        app = create_app(store, demo_inventory(), clock=Clock(NOW), config=WebConfig(housekeeping_s=0))
        c = log_in(TestClient(app), "hotline")
        api = c.get("/api/status").json()
        assert api == cli
        shown = _rows(c.get("/?show=all").text)
        assert isinstance(cli, list) and len(shown) == len(cli) == 29
        for site in cli:
            row = shown[site["site"]]
            assert row["summary"] == site["summary"], site["site"]
            assert row["open"] == ("true" if site["open"] else "false")
            assert int(row["up"]) == site["devices_up"] and int(row["down"]) == site["devices_down"]
            assert int(row["degraded"]) == site["devices_degraded"]
            assert int(row["incidents"]) == site["open_incidents"]
        # not trivially equal: the store has an incident, a closed site, devices down
        assert {s["summary"] for s in cli} >= {"incident", "expected", "ok"}
        # one site, with its devices
        site = _cli("florac-fs", db=url)
        assert c.get("/api/status/florac-fs").json() == site
        page = c.get("/sites/florac-fs").text
        states = dict(re.findall(r'<tr data-device="([^"]+)" data-state="([^"]+)">', page))
        assert states == {d["device"]: d["state"] for d in site["devices"]}  # type: ignore[index]
        assert states["florac-fs-borne1"] == "down"
    finally:
        store.dispose()
