"""The monthly report: its model, the comparison with the previous month, and its files
(HTML from Jinja2 templates, PDF from that HTML with WeasyPrint, a CSV of every check).

Every word a reader sees goes through ``_`` (a gettext-style callable handed to the templates
and used for the labels built here): French is the source language; English comes from the
project's catalogue (``fleet/i18n``) by passing its translator instead of :func:`french`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from fleet.audit import charts
from fleet.audit.availability import Availability
from fleet.audit.entries import STATUS_LABELS, GridWeek, checklist, grid
from fleet.audit.figures import DeployLine, IncidentFigures, UsageFigures
from fleet.audit.period import Month

Translate = Callable[[str], str]
TEMPLATES = Path(__file__).resolve().parent / "templates"
BAD = ("ko", "error")
RANK = MappingProxyType({"na": 0, "ok": 1, "skipped": 2, "ko": 3, "error": 4})
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
             "octobre", "novembre", "décembre")  # fmt: skip


def french(text: str) -> str:
    """The source language: the identity (the msgids are French)."""
    return text


def N_(text: str) -> str:  # gettext's conventional name for "mark, translate later"
    return text


AREAS = MappingProxyType({
    "verification": N_("Vérifications automatiques"),
    "acces": N_("Accès aux appareils"),
    "effacement": N_("Effacement des sessions"),
    "locaux": N_("Locaux (check-list)"),
})
STATUS_TEXT = MappingProxyType({
    "ok": N_("conforme"), "ko": N_("non conforme"), "na": N_("sans objet"),
    "skipped": N_("non vérifié"), "error": N_("erreur"),
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One checked item: a testinfra check on a host, a host's reachability, a checklist
    item, a station's wipes.  What the CSV lists and the comparison keys on."""

    area: str
    target: str
    item: str
    label: str
    status: str
    refs: tuple[str, ...] = ()
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.area}:{self.target}:{self.item}"

    @property
    def bad(self) -> bool:
        return self.status in BAD


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    label: str
    before: str
    after: str
    trend: str
    """``better``, ``worse``, ``same`` or ``new``."""


@dataclass(frozen=True, slots=True)
class FigureChange:
    label: str
    before: float | None
    after: float | None
    trend: str
    unit: str = ""


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    name: str
    commune: str
    timezone: str


@dataclass(frozen=True, slots=True)
class SiteReport:
    site: SiteInfo
    month: Month
    generated_at: datetime
    lab: bool
    findings: tuple[Finding, ...]
    availability: tuple[Availability, ...]
    incidents: IncidentFigures
    deploys: tuple[DeployLine, ...]
    usage: UsageFigures
    grid: tuple[GridWeek, ...]
    checks_ran: bool = True
    previous: Mapping[str, Any] | None = None
    """The previous month's audit summary (``audits.summary``), if there was one."""
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ verdict ----
    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.bad)

    @property
    def skipped(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "skipped")

    @property
    def checklist_entered(self) -> bool:
        return any(f.area == "locaux" for f in self.findings)

    @property
    def verdict(self) -> str:
        """``red`` (something failed), ``incomplete`` (nothing failed, but something could not
        be checked or the checklist is missing), ``green``."""
        if self.failures:
            return "red"
        if self.skipped or not self.checklist_entered or not self.checks_ran:
            return "incomplete"
        return "green"

    # --------------------------------------------------------------- figures ----
    @property
    def availability_percent(self) -> float | None:
        up = sum(a.up_s for a in self.availability)
        down = sum(a.down_s for a in self.availability)
        return None if up + down <= 0 else 100.0 * up / (up + down)

    @property
    def people(self) -> int:
        return sum(w.people or 0 for w in self.grid)

    def figures(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "availability": self.availability_percent,
            "incidents_opened": float(self.incidents.opened),
            "incidents_still_open": float(self.incidents.still_open),
            "mean_ack_minutes": self.incidents.mean_ack_minutes,
            "mean_resolve_minutes": self.incidents.mean_resolve_minutes,
            "sessions": float(self.usage.sessions),
            "wipe_failures": float(self.usage.wipe_failures),
            "people": float(self.people),
            "deploys": float(len(self.deploys)),
        }
        for a in self.availability:
            out[f"availability:{a.device}"] = a.percent
        return out

    def statuses(self) -> dict[str, str]:
        """Status per item key; a parametrised check (several results under one name) takes
        its worst result."""
        out: dict[str, str] = {}
        for f in self.findings:
            old = out.get(f.key)
            if old is None or RANK[f.status] > RANK[old]:
                out[f.key] = f.status
        return out

    def summary(self) -> dict[str, Any]:
        """What the store keeps for next month's comparison."""
        return {
            "verdict": self.verdict,
            "items": self.statuses(),
            "labels": {f.key: f.label for f in self.findings},
            "figures": self.figures(),
        }

    # ----------------------------------------------------------- comparison ----
    def changes(self) -> list[Change]:
        if not self.previous:
            return []
        before: Mapping[str, str] = self.previous.get("items", {})
        labels = {f.key: f"{f.target} — {f.label}" for f in self.findings}
        out = []
        for key, status in self.statuses().items():
            old = before.get(key)
            if old is None:
                trend = "new"
            elif (old in BAD or old == "skipped") and status in ("ok", "na"):
                trend = "better"
            elif old in ("ok", "na", "skipped") and status in BAD:
                trend = "worse"
            else:
                trend = "same"
            out.append(Change(key, labels[key], old or "", status, trend))
        return out

    def figure_changes(self) -> list[FigureChange]:
        if not self.previous:
            return []
        before: Mapping[str, float | None] = self.previous.get("figures", {})
        now = self.figures()
        spec = (  # key, label, unit, higher is better (None: neutral)
            ("availability", N_("Disponibilité pendant l'ouverture"), " %", True),
            ("incidents_opened", N_("Incidents ouverts"), "", False),
            ("incidents_still_open", N_("Incidents encore ouverts en fin de mois"), "", False),
            ("mean_ack_minutes", N_("Délai moyen de prise en compte"), " min", False),
            ("mean_resolve_minutes", N_("Délai moyen de résolution"), " min", False),
            ("wipe_failures", N_("Échecs d'effacement"), "", False),
            ("sessions", N_("Sessions sur les postes et bornes"), "", None),
            ("people", N_("Personnes reçues (grille)"), "", None),
        )
        out = []
        for key, label, unit, higher in spec:
            a, b = before.get(key), now.get(key)
            if a is None or b is None or abs(a - b) < 1e-9:
                trend = "same" if a is not None and b is not None else "new"
            elif higher is None:
                trend = "up" if b > a else "down"
            else:
                trend = "better" if (b > a) == higher else "worse"
            out.append(FigureChange(label, a, b, trend, unit))
        return out


# ----------------------------------------------------------------------- rendering ----


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def _num(value: float | int | None, digits: int = 1) -> str:
    """French number: comma decimal separator, narrow no-break space for thousands."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text.replace(",", "\u202f").replace(".", ",")


def month_label(month: Month, _: Translate) -> str:
    return f"{_(MONTHS_FR[month.month - 1])} {month.year}"


def _local(tz: ZoneInfo) -> Callable[[datetime | None], str]:
    def fmt(value: datetime | None) -> str:
        return "—" if value is None else value.astimezone(tz).strftime("%d/%m/%Y %H:%M")

    return fmt


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h".replace(".", ",") if hours < 48 else f"{hours / 24:.1f} j".replace(".", ",")


def site_charts(report: SiteReport, _: Translate) -> dict[str, str]:
    avail = charts.Bars(
        title=_("Disponibilité pendant les heures d'ouverture"),
        labels=tuple(a.device for a in report.availability),
        values=tuple(a.percent for a in report.availability),
        unit=" %",
        maximum=100.0,
        horizontal=True,
        thresholds=(95.0, 99.0),
    )
    weeks = report.usage.per_week()
    sessions = charts.Bars(
        title=_("Sessions par semaine (tous postes et bornes)"),
        labels=tuple(_("sem. du {day}").format(day=w.strftime("%d/%m")) for w in weeks),
        values=tuple(float(n) for n in weeks.values()),
    )
    return {"availability": charts.svg(avail, show_title=False), "sessions": charts.svg(sessions)}


def render_site(report: SiteReport, _: Translate = french, signature: str = "") -> str:
    """The site's report as one self-contained HTML page (what the PDF is made from)."""
    tz = ZoneInfo(report.site.timezone)
    by_host: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.area in ("verification", "acces"):
            by_host.setdefault(f.target, []).append(f)
    hosts = []
    for host, items in sorted(by_host.items()):
        counts = {s: sum(1 for f in items if f.status == s) for s in ("ok", "ko", "error", "skipped", "na")}
        hosts.append(
            {"name": host, "counts": counts, "problems": [f for f in items if f.status not in {"ok", "na"}]}
        )
    groups = checklist().groups
    premises = [f for f in report.findings if f.area == "locaux"]
    premise_groups = [
        (label, [f for f in premises if (checklist().item(f.item) or _Dummy).group == gid])
        for gid, label in groups.items()
    ]
    g = grid()
    grid_totals: dict[str, dict[str, int]] = {}
    for w in report.grid:
        for (partner, service), n in w.services.items():
            grid_totals.setdefault(partner, {}).setdefault(service, 0)
            grid_totals[partner][service] += n
    return (
        _env()
        .get_template("site.html.j2")
        .render(
            _=_,
            r=report,
            month_label=month_label(report.month, _),
            status_text={k: _(v) for k, v in STATUS_TEXT.items()},
            areas={k: _(v) for k, v in AREAS.items()},
            local=_local(tz),
            duration=_duration,
            charts=site_charts(report, _),
            hosts=hosts,
            premise_groups=[(_(label), items) for label, items in premise_groups if items],
            wipes=[f for f in report.findings if f.area == "effacement"],
            changes=[c for c in report.changes() if c.trend in ("better", "worse")],
            unchanged=sum(1 for c in report.changes() if c.trend == "same"),
            figure_changes=report.figure_changes(),
            partners=g.partners,
            services=g.services,
            grid_totals=grid_totals,
            signature=signature,
            css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        )
    )


class _Dummy:
    group = ""


@dataclass(frozen=True, slots=True)
class NetworkReport:
    month: Month
    generated_at: datetime
    lab: bool
    sites: tuple[SiteReport, ...]
    unreached: Mapping[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        verdicts = {s.verdict for s in self.sites}
        return "red" if "red" in verdicts else "incomplete" if "incomplete" in verdicts else "green"

    def summary(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "items": {},
            "figures": {f"{s.site.id}:availability": s.availability_percent for s in self.sites},
        }


def render_network(report: NetworkReport, _: Translate = french, signature: str = "") -> str:
    chart = charts.Bars(
        title=_("Disponibilité pendant l'ouverture, par site"),
        labels=tuple(s.site.id for s in report.sites),
        values=tuple(s.availability_percent for s in report.sites),
        unit=" %",
        maximum=100.0,
        horizontal=True,
        thresholds=(95.0, 99.0),
    )
    return (
        _env()
        .get_template("network.html.j2")
        .render(
            _=_,
            r=report,
            month_label=month_label(report.month, _),
            chart=charts.svg(chart),
            signature=signature,
            css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        )
    )


def write_pdf(html: str, path: Path) -> None:
    """The PDF of an HTML report (WeasyPrint; fonts from fontconfig: DejaVu)."""
    from weasyprint import HTML

    HTML(string=html, base_url=str(TEMPLATES)).write_pdf(str(path))


CSV_COLUMNS = ("site", "mois", "domaine", "cible", "point", "libellé", "statut", "références",
               "message", "statut_mois_précédent", "évolution")  # fmt: skip


def findings_csv(report: SiteReport, _: Translate = french) -> str:
    """Every check of the month, one line each (``;``-separated, UTF-8, for spreadsheets)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow([_(c) for c in CSV_COLUMNS])
    changes = {c.key: c for c in report.changes()}
    trend = {"better": _("better"), "worse": _("worse"), "same": _("unchanged"), "new": _("new")}
    for f in report.findings:
        c = changes.get(f.key)
        writer.writerow(
            [
                report.site.id,
                str(report.month),
                _(AREAS.get(f.area, f.area)),
                f.target,
                f.item,
                f.label,
                _(STATUS_TEXT.get(f.status, f.status)),
                " ".join(f.refs),
                f.message,
                _(STATUS_TEXT.get(c.before, c.before)) if c and c.before else "",
                trend[c.trend] if c else "",
            ]
        )
    return out.getvalue()


def premises_label(item_id: str) -> str:
    item = checklist().item(item_id)
    return item.label if item is not None else item_id


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def week_label(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def join(values: Sequence[str]) -> str:
    return ", ".join(values)
