"""The store the dashboard tests look at, built from real objects once per session.

* the demo inventory (29 sites, Lozère, Muret, Rennes, Nouméa) plus a ``web-lab`` site whose
  printer and PC are snmpsim recordings on 127.0.0.1, polled by the real poller;
* two days of monitoring cycles through the real engine (``fleet.monitor.cycle.apply_samples``
  with the rules of ``monitoring/rules.yml``): every device healthy, then in the last 40
  minutes Florac's borne stops answering (a critical incident), Mende's printer runs out of
  toner (a major one), Muret's PC1 is under heavy load... and Nouméa, where it is 21:00 and the
  site is closed, has its devices off (expected, never red);
* a maintenance window and a resolved incident through :mod:`fleet.incidents`;
* users created with :func:`fleet.store.users.create_user`.

Nothing is written as SQL by hand.  Tests copy the SQLite file (:func:`World.copy`) so each
one acts on its own store.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet.incidents import add_window, list_incidents, resolve
from fleet.inventory.models import Device, DeviceKind, Inventory
from fleet.monitor.cycle import apply_samples
from fleet.monitor.poller import Poller, Sample, load_profiles
from fleet.monitor.rules_file import load_rules
from fleet.store import Store, open_store
from fleet.store.users import create_user
from tests.incidents.samples import REPO, demo_inventory, make_site, site_samples
from tests.monitor.agents import FIXTURES, device, snmpsim

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
"""A Monday: 11:00 in Paris (sites open), 21:00 in Nouméa (closed)."""
PASSWORD = "correct horse battery"
ROLES = ("auditor", "technician", "hotline", "admin")


@dataclass
class Clock:
    """The dashboard's clock in tests: moved by hand, never by the machine's speed."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class World:
    template: Path
    inventory: Inventory
    incidents: dict[str, int] = field(default_factory=dict)

    def copy(self, dest: Path) -> str:
        """A private copy of the seeded store; returns its URL."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.template, dest)
        return f"sqlite:///{dest}"


def _lab_devices(port: int) -> list[Device]:
    return [
        device("web-lab-prn1", DeviceKind.PRINTER, port, community="canon", site="web-lab"),
        device("web-lab-pc1", DeviceKind.PUBLIC_PC, port, community="linux", site="web-lab"),
    ]


def _real_polls(store: Store, site_devices: Sequence[Device], inventory: Inventory, data: Path) -> None:
    """The web-lab devices polled for real (snmpsim), every 10 minutes of the last 2 hours."""
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    profiles = load_profiles(REPO / "monitoring" / "profiles")
    site = inventory.site("web-lab")
    for k in range(12, -1, -1):
        at = NOW - timedelta(minutes=10 * k)
        poller = Poller(profiles, timeout=2.0, retries=1, clock=lambda at=at: at)
        try:
            samples = asyncio.run(poller.cycle(list(site_devices)))
        finally:
            poller.close()
        assert all(s.ok for s in samples), "snmpsim must answer every recording"
        apply_samples(store, [site], samples, rules, at)


def build_world(root: Path) -> World:
    demo = demo_inventory()
    data = root / "recordings"
    data.mkdir(parents=True, mode=0o755)
    shutil.copy(FIXTURES / "printers" / "canonprinter_tm.snmprec", data / "canon.snmprec")
    shutil.copy(FIXTURES / "linux" / "linux_icecast.snmprec", data / "linux.snmprec")
    template = root / "world.sqlite"
    store = open_store(f"sqlite:///{template}")
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    try:
        with snmpsim(data, "canon") as agent:
            lab = make_site(_lab_devices(agent.port), "web-lab")
            lab = lab.model_copy(update={"name": "Atelier numérique de test", "commune": "Florac"})
            inventory = demo.model_copy(update={"sites": (*demo.sites, lab)})
            sites = list(demo.sites)
            # two days of healthy history, every 4 hours, then every 5 minutes for the last 40
            instants = [NOW - timedelta(hours=48 - 4 * k) for k in range(12)]
            instants += [NOW - timedelta(minutes=40 - 5 * k) for k in range(9)]
            for at in instants:
                recent = at >= NOW - timedelta(minutes=40)
                samples: list[Sample] = []
                for site in sites:
                    down: set[str] = set()
                    override: dict[str, dict[str, float | int | str]] = {}
                    if recent and site.id == "florac-fs":
                        down = {"florac-fs-borne1"}
                    if recent and site.id == "mende-pref":
                        override = {
                            "mende-pref-prn1": {"printer_error:no_toner": 1, "supply_pct:Black Toner": 0.0}
                        }
                    if recent and site.id == "noumea-ps":
                        down = {d.hostname for d in site.devices}
                    samples += site_samples(site.devices, at, down=down, override=override)
                apply_samples(store, sites, samples, rules, at)
            _real_polls(store, lab.devices, inventory, data)
        incidents = {f"{i.device}/{i.check}": i.id for i in list_incidents(store, statuses=None)}
        assert {"florac-fs-borne1/reachability", "mende-pref-prn1/toner_empty"} <= set(incidents), incidents
        # a maintenance window on Muret (planned), one resolved incident in the history
        add_window(
            store,
            site_id="muret-sp",
            start=NOW + timedelta(days=1),
            end=NOW + timedelta(days=1, hours=2),
            who="tech-muret",
            why="changement du commutateur",
            now=NOW,
        )
        resolve(
            store, incidents["mende-pref-prn1/supply:Black Toner"], who="seed", at=NOW, text="toner remplacé"
        )
        for role in ROLES:
            create_user(store, role, role, PASSWORD, NOW - timedelta(days=30))
    finally:
        store.dispose()
    return World(template, inventory, incidents)
