"""The gateway's opening-hours gate agrees with fleet.inventory.hours, minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleet.gateway import portalhours
from fleet.inventory import is_open, load_inventory
from fleet.inventory.hours import describe_week
from fleet.inventory.models import Site
from tests.gateway.conftest import REPO


def _config(site: Site) -> dict[str, Any]:
    """What the role writes to /etc/relais/portal-hours.json from the site's variables."""
    return {"interface": "eth1", "timezone": site.timezone, "week": describe_week(site),
            "closures": [{"from": c.start, "to": c.end} for c in site.hours.closures]}


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
        cfg = _config(site)
        t = start
        while t < start + timedelta(days=8):
            assert portalhours.is_open(cfg, t) == is_open(site, t), (site.id, t.isoformat())
            t += timedelta(minutes=30)


def test_crossing_midnight_and_closures() -> None:
    cfg = {"timezone": "Europe/Paris", "week": {"fri": ["18:00-00:30+1"]},
           "closures": [{"date": "2026-12-25"}]}
    paris = portalhours.ZoneInfo("Europe/Paris")
    assert portalhours.is_open(cfg, datetime(2026, 11, 28, 0, 15, tzinfo=paris))  # Sat 00:15
    assert not portalhours.is_open(cfg, datetime(2026, 11, 28, 0, 45, tzinfo=paris))
    assert not portalhours.is_open(cfg, datetime(2026, 12, 25, 19, 0, tzinfo=paris))  # closure
    assert portalhours.is_open({**cfg, "week": {"mon": ["09:00-12:00"]}},
                               datetime(2026, 11, 23, 9, 0, tzinfo=paris))
    with pytest.raises(portalhours.HoursError, match="reversed"):
        portalhours.parse_range("17:00-09:00")
    with pytest.raises(portalhours.HoursError, match="aware"):
        portalhours.is_open(cfg, datetime(2026, 11, 23, 9, 0))


def test_gate_cli_status_with_injected_clock(tmp_path: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "hours.json"
    conf.write_text('{"interface": "eth1", "timezone": "Europe/Paris", '
                    '"week": {"mon": ["09:00-12:00"]}}')
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T10:00:00+01:00",
                             "status"]) == 0
    assert '"open": true' in capsys.readouterr().out
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T13:00:00+01:00",
                             "status"]) == 0
    assert '"open": false' in capsys.readouterr().out
    assert portalhours.main(["--config", str(conf), "--now", "2026-11-23T13:00:00",
                             "status"]) == 2
