"""The opening-hours gate: "open now" is answered once, by fleet.inventory.hours (issue 10).

The controller renders the site's opening intervals from the inventory's parsed model
(fleet.gateway.hoursfile, through the role's filter); the gateway's relais-portal-hours only
checks an instant against them, minute by minute the same answer as the inventory's."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.errors import FleetError
from fleet.gateway import hoursfile, portalhours
from fleet.inventory import is_open, load_inventory
from fleet.inventory.models import Site
from tests.gateway.conftest import REPO

FILTER = REPO / "roles/captive_portal/filter_plugins/relais_hours.py"


@pytest.fixture(scope="module")
def sites() -> tuple[Site, ...]:
    return load_inventory(REPO / "inventory").sites


@pytest.mark.parametrize("start", [
    datetime(2026, 11, 23, tzinfo=UTC),       # an ordinary week
    datetime(2026, 3, 27, tzinfo=UTC),        # spring DST change (Europe: 29 March 2026)
    datetime(2026, 10, 23, tzinfo=UTC),       # autumn DST change (25 October 2026)
    datetime(2026, 12, 21, tzinfo=UTC),       # Christmas closures
])
def test_gate_agrees_with_the_inventory(sites: tuple[Site, ...], start: datetime) -> None:
    for site in sites:
        cfg = json.loads(json.dumps(hoursfile.render(site, "eth1", False, start)))
        # the gateway reads the whole list every minute; here only the 8 days looked at are
        # kept, so that the 384 comparisons per site stay fast
        lo, hi = portalhours.intervals(cfg)[0], start + timedelta(days=9)
        cfg["open"] = [p for p in cfg["open"]
                       if portalhours.parse_instant(p[1], "") >= start - timedelta(days=1)
                       and portalhours.parse_instant(p[0], "") < hi]
        assert lo <= start
        t = start
        while t < start + timedelta(days=8):
            assert portalhours.is_open(cfg, t) == is_open(site, t), (site.id, t.isoformat())
            t += timedelta(minutes=30)


def test_the_horizon_starts_on_the_first_of_the_month() -> None:
    a, b = hoursfile.horizon(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert (a, b) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))
    assert hoursfile.horizon(datetime(2026, 1, 5, tzinfo=UTC))[1] == datetime(2027, 2, 1,
                                                                             tzinfo=UTC)


def _copy_inventory(tmp_path: Path, site: str, key: str, value: Any) -> Path:
    shutil.copytree(REPO / "inventory", tmp_path / "inventory")
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
    path = tmp_path / "inventory" / "sites" / f"{site}.yml"
    data = yaml.safe_load(path.read_text())
    group = next(iter(data["all"]["children"].values()))
    group["vars"][key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return tmp_path / "inventory"


def test_the_old_discrepancy_is_gone(tmp_path: Path) -> None:
    """The gateway used to parse the semainier again and accepted a range ending at 00:00 that
    the inventory refuses.  Now the inventory's refusal stops the role, and the gateway reads
    no opening range at all."""
    week = {"mon": ["09:00-00:00"]}
    inv = _copy_inventory(tmp_path, "florac-fs", "site_opening_hours", week)
    with pytest.raises(FleetError, match="09:00-00:00"):
        hoursfile.render_for("florac-fs", [str(inv)], "eth1", False, "2026-11-23T10:00:00Z")
    old_file = {"interface": "eth1", "timezone": "Europe/Paris", "week": week, "closures": []}
    with pytest.raises(portalhours.HoursError, match="not an opening-intervals file"):
        portalhours.is_open(old_file, datetime(2026, 11, 23, 22, 0, tzinfo=UTC))
    src = Path(portalhours.__file__).read_text()
    assert "zoneinfo" not in src and "parse_range" not in src


def test_the_role_filter_renders_from_the_inventory_ansible_was_given(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("relais_hours", FILTER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    overlay = tmp_path / "overlay.yml"
    overlay.write_text("all: {}\n")
    inv = _copy_inventory(tmp_path, "florac-fs", "site_closures",
                          [{"from": "2026-11-23", "to": "2026-11-23", "reason": "test"}])
    text = mod.relais_portal_hours("florac-fs", [str(inv), str(overlay)], "eth1", False,
                                   "2026-11-23T09:00:00Z")
    cfg = json.loads(text)
    assert cfg["format"] == 2 and cfg["valid_from"] == "2026-11-01T00:00:00Z"
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert not portalhours.is_open(cfg, monday)  # the closure, read from that inventory
    assert portalhours.is_open(cfg, monday + timedelta(days=1))
    with pytest.raises(Exception, match="no Relais inventory directory"):
        mod.relais_portal_hours("florac-fs", [str(overlay)], "eth1", False,
                                "2026-11-23T09:00:00Z")


def test_always_open_and_outside_the_horizon() -> None:
    site_cfg = {"format": 2, "interface": "eth1", "always_open": False,
                "valid_from": "2026-11-01T00:00:00Z", "valid_until": "2026-12-01T00:00:00Z",
                "open": [["2026-11-23T08:00:00Z", "2026-11-23T11:00:00Z"]]}
    assert portalhours.state(site_cfg, datetime(2026, 11, 23, 9, tzinfo=UTC)) == (True,
                                                                                  "open hours")
    assert not portalhours.is_open(site_cfg, datetime(2026, 11, 23, 11, tzinfo=UTC))
    is_on, why = portalhours.state(site_cfg, datetime(2026, 12, 2, 3, tzinfo=UTC))
    assert is_on and "horizon" in why
    assert portalhours.is_open({**site_cfg, "always_open": True},
                               datetime(2026, 11, 23, 3, tzinfo=UTC))
    with pytest.raises(portalhours.HoursError, match="aware"):
        portalhours.is_open(site_cfg, datetime(2026, 11, 23, 9, 0))


def test_gate_cli_status_with_injected_clock(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "hours.json"
    conf.write_text(json.dumps({
        "format": 2, "interface": "eth1", "valid_from": "2026-11-01T00:00:00Z",
        "valid_until": "2026-12-01T00:00:00Z",
        "open": [["2026-11-23T08:00:00Z", "2026-11-23T11:00:00Z"]]}))
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T10:00:00+01:00",
                             "status"]) == 0
    assert json.loads(capsys.readouterr().out)["open"] is True
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T13:00:00+01:00",
                             "status"]) == 0
    assert json.loads(capsys.readouterr().out)["open"] is False
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T13:00:00",
                             "status"]) == 2


FAKE_NDSCTL = '''#!{python}
"""Stand-in for openNDS's ndsctl (the real one runs in the lab gateway tests): refuses
the first {busy} questions as the real one does while another caller holds its lock, then
answers from clients.json; "deauth" is refused once per client, then takes effect on the
client with that MAC, or on the first listed with that IP address (as openNDS finds one)."""
import json, sys
from pathlib import Path
here = Path(__file__).parent
count = here / "count"
n = int(count.read_text()) if count.exists() else 0
count.write_text(str(n + 1))
clients = json.loads((here / "clients.json").read_text())
if n < {busy}:
    print("ndsctl: is already in use by another process")
    raise SystemExit(1)
if sys.argv[1] == "json":
    print(json.dumps({{"client_list_length": str(len(clients)), "clients": clients}}))
elif sys.argv[1] == "deauth":
    refused = here / ("refused-" + sys.argv[2])
    if not refused.exists():
        refused.touch()
        print("ndsctl: is already in use by another process")
        raise SystemExit(1)
    # as openNDS finds a client: by its MAC, else the first of its list with that address
    target = sys.argv[2] if sys.argv[2] in clients else next(
        (mac for mac, c in clients.items() if c["ip"] == sys.argv[2]), None)
    if target is not None:
        clients[target]["state"] = "Preauthenticated"
    (here / "clients.json").write_text(json.dumps(clients))
'''


def fake_ndsctl(tmp_path: Path, clients: dict[str, dict[str, str]], busy: int) -> Path:
    tool = tmp_path / "ndsctl"
    tool.write_text(FAKE_NDSCTL.format(python=sys.executable, busy=busy))
    tool.chmod(0o755)
    (tmp_path / "clients.json").write_text(json.dumps(clients))
    return tool


GUESTS = {"0e:00:00:00:00:01": {"ip": "172.16.12.10", "state": "Authenticated"},
          "0e:00:00:00:00:02": {"ip": "172.16.12.11", "state": "Authenticated"},
          "0e:00:00:00:00:03": {"ip": "172.16.12.12", "state": "Preauthenticated"}}


def test_closing_deauthenticates_everyone_even_through_a_busy_ndsctl(tmp_path: Path) -> None:
    """At closing time every authenticated guest is de-authenticated, though ndsctl refuses
    the first questions (relais-connlog holds it) and each first deauth: a refused answer
    used to be read as "nobody is connected" and left guests on past closing time."""
    tool = fake_ndsctl(tmp_path, GUESTS, busy=3)
    assert portalhours.deauth_all(str(tool), within=20, pause=0.01) == 2
    left = json.loads((tmp_path / "clients.json").read_text())
    assert not [c for c in left.values() if c["state"] == "Authenticated"]
    # control: the stand-in did refuse, and the 'Preauthenticated' guest was left alone
    assert int((tmp_path / "count").read_text()) > 3 + 2 * 2
    assert not (tmp_path / "refused-0e:00:00:00:00:03").exists()


def test_a_stale_entry_with_the_same_address_does_not_shield_a_guest(tmp_path: Path) -> None:
    """openNDS still lists a device that had the address before (here first in its list): a
    deauth by IP address took that entry, and the authenticated guest stayed on past closing
    (a lab run of 2026-12-02).  By MAC, the guest is the one de-authenticated."""
    clients = {"0e:00:00:00:00:09": {"ip": "172.16.12.10", "state": "Preauthenticated"},
               "0e:00:00:00:00:01": {"ip": "172.16.12.10", "state": "Authenticated"}}
    tool = fake_ndsctl(tmp_path, clients, busy=0)
    # control: asked by address, the stand-in (as openNDS) takes the stale entry
    for _ in range(2):  # the first deauth of each target is refused
        subprocess.run([str(tool), "deauth", "172.16.12.10"], check=False)
    left = json.loads((tmp_path / "clients.json").read_text())
    assert left["0e:00:00:00:00:01"]["state"] == "Authenticated"
    assert portalhours.deauth_all(str(tool), within=20, pause=0.01) == 1
    left = json.loads((tmp_path / "clients.json").read_text())
    assert left["0e:00:00:00:00:01"]["state"] == "Preauthenticated"


def test_no_client_list_is_not_nobody(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ndsctl that never answers (openNDS down): nothing is claimed, the log says so."""
    tool = fake_ndsctl(tmp_path, GUESTS, busy=10**6)
    assert portalhours.deauth_all(str(tool), within=0.3, pause=0.01) == 0
    assert "ndsctl gave no client list" in capsys.readouterr().err
