"""Funder statistics (``fleet stats``): counts over a period, per site and ISO week.

Indicators: sessions on the public PCs and bornes (from the usage counts), per site and week
and per station; people received and services rendered per partner organisation (from the
weekly counting grid); availability during opening hours; incidents opened.  Only counts:
nothing here can name a person.  Weeks are ISO weeks named by their Monday; days are
the sites' local days; the period is ``[from, to]``, both local dates, inclusive; a week cut by
the period's edges counts only its days inside (the grid, entered per week, counts whole).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from fleet.audit import availability, charts
from fleet.audit.entries import grid, grid_weeks
from fleet.audit.period import local_midnight, week_start
from fleet.audit.usage import stations, usage_rows
from fleet.errors import ConfigError
from fleet.inventory.models import Site
from fleet.store.db import Store
from fleet.store.models import Incident


def parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected a date YYYY-MM-DD, e.g. 2026-11-01") from None


@dataclass(frozen=True, slots=True)
class SiteStats:
    site_id: str
    name: str
    weeks: dict[date, dict[str, int]]
    """Monday -> {"sessions": n, "people": n, "services": n}."""
    per_station: dict[str, int]
    services: dict[str, dict[str, int]]
    """Partner -> service -> count over the period."""
    availability: float | None
    incidents: int

    @property
    def sessions(self) -> int:
        return sum(w["sessions"] for w in self.weeks.values())

    @property
    def people(self) -> int:
        return sum(w["people"] for w in self.weeks.values())


@dataclass(frozen=True, slots=True)
class Stats:
    first: date
    last: date
    sites: tuple[SiteStats, ...] = field(default=())

    @property
    def weeks(self) -> list[date]:
        out, w = [], week_start(self.first)
        while w <= self.last:
            out.append(w)
            w += timedelta(days=7)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "sites": [
                {
                    "site": s.site_id, "name": s.name, "sessions": s.sessions, "people": s.people,
                    "availability_percent": None if s.availability is None else round(s.availability, 3),
                    "incidents_opened": s.incidents,
                    "weeks": {w.isoformat(): v for w, v in sorted(s.weeks.items())},
                    "sessions_per_station": s.per_station,
                    "services_per_partner": s.services,
                }
                for s in self.sites
            ],
        }  # fmt: skip

    def csv(self) -> str:
        """One line per site and week (``;``-separated), then the services per partner."""
        out = io.StringIO()
        w = csv.writer(out, delimiter=";", lineterminator="\n")
        w.writerow(["site", "semaine", "sessions", "personnes_reçues", "services_rendus"])
        for s in self.sites:
            for week in self.weeks:
                v = s.weeks.get(week, {})
                w.writerow(
                    [
                        s.site_id,
                        week.isoformat(),
                        v.get("sessions", 0),
                        v.get("people", 0),
                        v.get("services", 0),
                    ]
                )
        w.writerow([])
        w.writerow(["site", "organisme", "service", "nombre"])
        for s in self.sites:
            for partner, per in sorted(s.services.items()):
                for service, n in sorted(per.items()):
                    w.writerow([s.site_id, partner, service, n])
        w.writerow([])
        w.writerow(
            ["site", "disponibilité_ouverture_pct", "incidents_ouverts", "sessions", "personnes_reçues"]
        )
        for s in self.sites:
            w.writerow(
                [
                    s.site_id,
                    "" if s.availability is None else f"{s.availability:.3f}",
                    s.incidents,
                    s.sessions,
                    s.people,
                ]
            )
        return out.getvalue()

    def chart(self) -> charts.Bars:
        weeks = self.weeks
        return charts.Bars(
            title=f"Sessions par semaine, {len(self.sites)} site(s), "
            f"du {self.first:%d/%m/%Y} au {self.last:%d/%m/%Y}",
            labels=tuple(f"{w:%d/%m}" for w in weeks),
            values=tuple(
                float(sum(s.weeks.get(w, {}).get("sessions", 0) for s in self.sites)) for w in weeks
            ),
        )


def compute(store: Store, sites: Sequence[Site], first: date, last: date) -> Stats:
    if last < first:
        raise ConfigError(f"--to {last}: must not be before --from {first}")
    g = grid()
    out = []
    for site in sites:
        weeks: dict[date, dict[str, int]] = {}
        per_station: dict[str, int] = {d.hostname: 0 for d in stations(site)}
        for r in usage_rows(store, [site.id], first, last):
            wk = weeks.setdefault(week_start(r.day), {"sessions": 0, "people": 0, "services": 0})
            wk["sessions"] += r.sessions
            per_station[r.device] = per_station.get(r.device, 0) + r.sessions
        services: dict[str, dict[str, int]] = {}
        for gw in grid_weeks(store, [site.id], week_start(first), last):
            wk = weeks.setdefault(gw.week, {"sessions": 0, "people": 0, "services": 0})
            wk["people"] += gw.people or 0
            for (partner, service), n in gw.services.items():
                wk["services"] += n
                label = g.partners.get(partner, partner)
                services.setdefault(label, {})
                services[label][g.services.get(service, service)] = (
                    services[label].get(g.services.get(service, service), 0) + n
                )
        start = local_midnight(first, site.tz)
        end = local_midnight(last + timedelta(days=1), site.tz)
        figures = availability.for_period(store, site, list(site.devices), start, end)
        up = sum(a.up_s for a in figures)
        down = sum(a.down_s for a in figures)
        with store.read() as s:
            incidents = (
                s.scalar(
                    select(func.count())
                    .select_from(Incident)
                    .where(Incident.site_id == site.id, Incident.opened_at >= start, Incident.opened_at < end)
                )
                or 0
            )
        out.append(
            SiteStats(
                site.id,
                site.name,
                weeks,
                per_station,
                services,
                None if up + down <= 0 else 100.0 * up / (up + down),
                int(incidents),
            )
        )
    return Stats(first, last, tuple(out))
