"""Hand-built poll samples for rule/cycle tests (the real poller is tested in tests/monitor).

``healthy(device, at)`` gives a plausible healthy sample per device kind, with the metric names
of the poller contract; tests override what they break."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path

from fleet.inventory import Inventory, load_inventory
from fleet.inventory.models import (
    WEEKDAYS,
    Contact,
    Coordinates,
    Device,
    DeviceKind,
    OpeningHours,
    OpeningRange,
    Site,
    SiteKind,
    Source,
    Supplier,
)
from fleet.monitor.poller import Sample

REPO = Path(__file__).resolve().parents[2]


def demo_inventory() -> Inventory:
    return load_inventory(REPO / "inventory")


def _metrics(kind: DeviceKind) -> dict[str, float | int | str]:
    if kind in (DeviceKind.PUBLIC_PC, DeviceKind.BORNE, DeviceKind.GATEWAY):
        m: dict[str, float | int | str] = {
            "cpu_load_pct": 7, "mem_used_pct": 41.5, "disk_used_pct:/": 33.0,
            "sys_descr": "Linux relais 6.1.0-28-amd64",
        }  # fmt: skip
        if kind is not DeviceKind.GATEWAY:
            m["proc_running:relais-wipe"] = 1
        if kind is DeviceKind.BORNE:
            m["proc_running:chromium"] = 1
        return m
    if kind is DeviceKind.PRINTER:
        flags = ("low_paper", "no_paper", "low_toner", "no_toner", "door_open", "jammed")
        return {f"printer_error:{f}": 0 for f in flags} | {
            "printer_errors": "", "supply_pct:Black Toner": 72.0,
        }  # fmt: skip
    if kind is DeviceKind.UPS:
        return {"ups_on_battery": 0, "ups_charge_pct": 100, "ups_runtime_min": 41}
    return {"if_count": 10, "if_up_count": 4, "if_up:ge0/1": 1}


def healthy(device: Device, at: datetime, **override: float | int | str) -> Sample:
    uptime = 3 * 86_400 + (at.timestamp() % 86_400)
    metrics = {"uptime_s": uptime, **_metrics(device.kind), **override}
    return Sample(device.hostname, at, True, None, metrics, 4.0)


def failed(device: Device, at: datetime, error: str = "timeout") -> Sample:
    return Sample(device.hostname, at, False, error, {}, 2000.0)


def site_samples(
    devices: list[Device] | tuple[Device, ...],
    at: datetime,
    down: set[str] = frozenset(),  # type: ignore[assignment]
    override: Mapping[str, Mapping[str, float | int | str]] | None = None,
) -> list[Sample]:
    out = []
    for d in devices:
        if d.hostname in down:
            out.append(failed(d, at))
        else:
            out.append(healthy(d, at, **dict((override or {}).get(d.hostname, {}))))
    return out


def make_site(
    devices: list[Device] | tuple[Device, ...],
    site_id: str = "test-site",
    *,
    always_open: bool = True,
) -> Site:
    """A site around hand-made devices (e.g. pointing at agents on 127.0.0.1)."""
    day = (OpeningRange(start=0, end=1440),) if always_open else ()
    hours = OpeningHours(timezone="Europe/Paris", week=dict.fromkeys(WEEKDAYS, day))
    return Site(
        id=site_id,
        name=f"Test site {site_id}",
        kind=SiteKind.FRANCE_SERVICES,
        address="1 place de la Mairie",
        commune="Florac-Trois-Rivières",
        postcode="48400",
        coordinates=Coordinates(lat=44.32, lon=3.59),
        timezone="Europe/Paris",
        hours=hours,
        management=IPv4Network("127.0.0.0/8"),
        referent=Contact(name="Animateur"),
        sav=Supplier(name="SAV test", phone="+33 4 00 00 00 00"),
        devices=tuple(d.model_copy(update={"site_id": site_id}) for d in devices),
        source=Source(file="tests/incidents/samples.py"),
    )
