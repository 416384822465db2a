"""What the auditor enters by hand: the premises checklist and the weekly counting grid.

Both are data (``checklist.yml``, ``grid.yml`` beside this module) and are filled from a file
the auditor writes (YAML or CSV, see ``docs/auditor.md``), then stored per site and month
(checklist) or per site and week (grid).  Every problem of a file is reported at once, one line
each, as ``file:line: field: message``; nothing is stored unless the whole file is valid.
The grid holds counts only: there is no field where a name could go.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from sqlalchemy import delete, select

from fleet.audit.period import Month
from fleet.errors import (
    AuditInputError,  # declared with every error
    Problem,
)
from fleet.inventory.models import Site
from fleet.inventory.yamlsrc import line_of, load_yaml
from fleet.store.audit import GridCount, GridPeople, PremisesCheck
from fleet.store.db import Store

HERE = Path(__file__).resolve().parent
STATUS_WORDS = MappingProxyType({
    "ok": "ok", "oui": "ok", "conforme": "ok", "bon": "ok", "yes": "ok",
    "ko": "ko", "non": "ko", "non conforme": "ko", "non-conforme": "ko", "no": "ko",
    "na": "na", "n/a": "na", "sans objet": "na", "so": "na", "s.o.": "na",
})  # fmt: skip
STATUS_LABELS = MappingProxyType({"ok": "conforme", "ko": "non conforme", "na": "sans objet"})
PEOPLE = "people"


# ------------------------------------------------------------------------------ data ----


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    label: str
    group: str
    source: str
    needs: str | None = None

    def applies(self, site: Site) -> bool:
        if self.needs is None:
            return True
        if self.needs == "pmr":
            return any(d.pmr for d in site.devices)
        return any(d.kind.value == self.needs for d in site.devices)


@dataclass(frozen=True, slots=True)
class Checklist:
    groups: Mapping[str, str]
    items: tuple[Item, ...]

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True, slots=True)
class Grid:
    partners: Mapping[str, str]
    services: Mapping[str, str]


def checklist() -> Checklist:
    data = yaml.safe_load((HERE / "checklist.yml").read_text(encoding="utf-8"))
    return Checklist(dict(data["groups"]), tuple(Item(**i) for i in data["items"]))


def grid() -> Grid:
    data = yaml.safe_load((HERE / "grid.yml").read_text(encoding="utf-8"))
    return Grid(dict(data["partners"]), dict(data["services"]))


def _suggest(word: str, choices: Sequence[str]) -> str:
    hint = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


# --------------------------------------------------------------------------- parsing ----


@dataclass(frozen=True, slots=True)
class Answer:
    item: str
    status: str
    comment: str
    source: str


@dataclass(frozen=True, slots=True)
class WeekCounts:
    week: date
    people: int | None
    services: Mapping[tuple[str, str], int]
    source: str


@dataclass(frozen=True, slots=True)
class Entries:
    answers: tuple[Answer, ...] = ()
    weeks: tuple[WeekCounts, ...] = ()


def _status(value: object) -> str | None:
    if isinstance(value, bool):  # YAML reads a bare yes/no as a boolean
        return "ok" if value else "ko"
    return STATUS_WORDS.get(str(value).strip().lower()) if value is not None else None


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _week(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


class _Checker:
    def __init__(self, display: str, site: Site, month: Month) -> None:
        self.display, self.site, self.month = display, site, month
        self.problems: list[Problem] = []
        self.answers: dict[str, Answer] = {}
        self.mentioned: set[str] = set()
        self.weeks: dict[date, WeekCounts] = {}

    def bad(self, line: int | None, field: str, value: object, message: str) -> None:
        self.problems.append(Problem(self.display, line, field, value, message))

    def where(self, line: int | None) -> str:
        return f"{self.display}:{line}" if line else self.display

    def answer(self, line: int | None, item_id: str, status: object, comment: object) -> None:
        cl = checklist()
        self.mentioned.add(item_id)
        item = cl.item(item_id)
        if item is None:
            self.bad(
                line,
                f"items.{item_id}",
                item_id,
                "unknown checklist item" + _suggest(item_id, [i.id for i in cl.items]),
            )
            return
        st = _status(status)
        if st is None:
            self.bad(
                line,
                f"items.{item_id}",
                status,
                f"status {status!r} is not one of ok, ko, na (oui, non, sans objet)",
            )
            return
        if item_id in self.answers:
            self.bad(line, f"items.{item_id}", item_id, "given twice")
            return
        if comment is not None and not isinstance(comment, (str, int, float)):
            self.bad(line, f"items.{item_id}.comment", comment, "must be a short text")
            return
        self.answers[item_id] = Answer(item_id, st, str(comment or "").strip()[:500], self.where(line))

    def week(
        self,
        line: int | None,
        raw_week: object,
        people: object,
        services: Mapping[tuple[str, str], tuple[int | None, object]],
    ) -> None:
        g = grid()
        week = _week(raw_week)
        field = f"weeks.{raw_week}"
        if week is None:
            self.bad(line, field, raw_week, "not a date (YYYY-MM-DD, the Monday of the week)")
            return
        if week.weekday() != 0:
            monday = week.fromordinal(week.toordinal() - week.weekday())
            self.bad(line, field, raw_week, f"not a Monday: write the week's Monday, {monday}")
            return
        if (week.year, week.month) != (self.month.year, self.month.month):
            self.bad(
                line,
                field,
                raw_week,
                f"this week belongs to {week.year:04d}-{week.month:02d} (a week belongs to "
                f"the month of its Monday), not to --month {self.month}",
            )
            return
        counts: dict[tuple[str, str], int] = {}
        ok = True
        n_people: int | None = None
        if people is not None:
            n_people = _count(people)
            if n_people is None:
                self.bad(
                    line, f"{field}.people", people, "must be a whole number >= 0 (a count, never a name)"
                )
                ok = False
        for (partner, service), (sline, value) in services.items():
            if partner not in g.partners:
                self.bad(
                    sline,
                    f"{field}.{partner}",
                    partner,
                    "unknown partner organisation" + _suggest(partner, list(g.partners)),
                )
                ok = False
                continue
            if service not in g.services:
                self.bad(
                    sline,
                    f"{field}.{partner}.{service}",
                    service,
                    "unknown service" + _suggest(service, list(g.services)),
                )
                ok = False
                continue
            n = _count(value)
            if n is None:
                self.bad(
                    sline,
                    f"{field}.{partner}.{service}",
                    value,
                    "must be a whole number >= 0 (a count, never a name)",
                )
                ok = False
                continue
            counts[(partner, service)] = counts.get((partner, service), 0) + n
        if week in self.weeks:
            self.bad(line, field, raw_week, "week given twice")
            return
        if ok:
            self.weeks[week] = WeekCounts(week, n_people, counts, self.where(line))

    def done(self) -> Entries:
        if not self.answers and not self.weeks and not self.problems:
            self.bad(
                None, "", None, "nothing to enter: give 'items' (checklist) and/or 'weeks' (counting grid)"
            )
        if self.mentioned:
            missing = [i.id for i in checklist().items if i.id not in self.mentioned and i.applies(self.site)]
            if missing:
                self.bad(
                    None,
                    "items",
                    None,
                    f"items missing: {', '.join(missing)} "
                    "(every item of fleet/audit/checklist.yml that applies to the site)",
                )
        if self.problems:
            raise AuditInputError(self.problems)
        answers = dict(self.answers)
        if answers:
            for item in checklist().items:  # items that do not apply to the site: sans objet
                answers.setdefault(item.id, Answer(item.id, "na", "ne concerne pas ce site", "(auto)"))
        return Entries(tuple(answers.values()), tuple(sorted(self.weeks.values(), key=lambda w: w.week)))


def parse_file(path: Path, site: Site, month: Month) -> Entries:
    """Read a checklist/grid file (``.yml``/``.yaml`` or ``.csv``); every problem at once."""
    display = str(path)
    if not path.is_file():
        raise AuditInputError([Problem(display, None, "", None, "no such file")])
    if path.suffix.lower() in (".yml", ".yaml"):
        return _parse_yaml(path, display, site, month)
    if path.suffix.lower() == ".csv":
        return _parse_csv(path, display, site, month)
    raise AuditInputError(
        [Problem(display, None, "", path.suffix, "unknown file type: give a .yml/.yaml or a .csv file")]
    )


def _parse_yaml(path: Path, display: str, site: Site, month: Month) -> Entries:
    problems: list[Problem] = []
    data = load_yaml(path, display, problems)
    if problems:
        raise AuditInputError(problems)
    c = _Checker(display, site, month)
    if not isinstance(data, dict):
        c.bad(1, "", data, "must be a mapping with 'items' and/or 'weeks'")
        raise AuditInputError(c.problems)
    for key in data:
        if key not in ("site", "month", "items", "weeks"):
            c.bad(line_of(data, key), str(key), key, "unknown key (site, month, items, weeks)")
    if "site" in data and str(data["site"]) != site.id:
        c.bad(line_of(data, "site"), "site", data["site"], f"this file is for another site than {site.id}")
    if "month" in data and str(data["month"]) != str(month):
        c.bad(line_of(data, "month"), "month", data["month"], f"this file is for another month than {month}")
    items = data.get("items")
    if items is not None:
        if not isinstance(items, dict):
            c.bad(line_of(data, "items"), "items", items, "must map item id -> ok/ko/na or {status, comment}")
        else:
            for item_id, value in items.items():
                line = line_of(items, item_id)
                if isinstance(value, dict):
                    extra = set(value) - {"status", "comment"}
                    if extra:
                        c.bad(
                            line, f"items.{item_id}", sorted(extra), "only 'status' and 'comment' are allowed"
                        )
                        continue
                    c.answer(line, str(item_id), value.get("status"), value.get("comment"))
                else:
                    c.answer(line, str(item_id), value, None)
    weeks = data.get("weeks")
    if weeks is not None:
        if not isinstance(weeks, dict):
            c.bad(line_of(data, "weeks"), "weeks", weeks, "must map a Monday (YYYY-MM-DD) -> counts")
        else:
            for raw_week, value in weeks.items():
                line = line_of(weeks, raw_week)
                if not isinstance(value, dict):
                    c.bad(line, f"weeks.{raw_week}", value, "must hold 'people' and/or 'services'")
                    continue
                extra = set(value) - {"people", "services"}
                if extra:
                    c.bad(
                        line,
                        f"weeks.{raw_week}",
                        sorted(extra),
                        "only 'people' and 'services' are allowed (counts only)",
                    )
                    continue
                services: dict[tuple[str, str], tuple[int | None, object]] = {}
                raw_services = value.get("services") or {}
                if not isinstance(raw_services, dict):
                    c.bad(
                        line_of(value, "services"),
                        f"weeks.{raw_week}.services",
                        raw_services,
                        "must map partner -> {service: count}",
                    )
                    continue
                for partner, per in raw_services.items():
                    pline = line_of(raw_services, partner)
                    if not isinstance(per, dict):
                        c.bad(pline, f"weeks.{raw_week}.{partner}", per, "must map service -> count")
                        continue
                    for service, n in per.items():
                        services[(str(partner), str(service))] = (line_of(per, service), n)
                c.week(line, raw_week, value.get("people"), services)
    return c.done()


_CSV_CHECKLIST = MappingProxyType({
    "item": ("item", "point", "élément"),
    "status": ("status", "statut", "état", "etat"),
    "comment": ("comment", "commentaire", "remarque"),
})
_CSV_GRID = MappingProxyType({
    "week": ("week", "semaine"),
    "partner": ("partner", "organisme", "partenaire"),
    "service": ("service",),
    "count": ("count", "nombre", "nb"),
})


def _columns(header: Sequence[str], wanted: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    out: dict[str, int] = {}
    for key, aliases in wanted.items():
        for i, name in enumerate(names):
            if name in aliases:
                out[key] = i
    return out


def _cell(row: Sequence[str], columns: Mapping[str, int], key: str) -> str:
    i = columns.get(key)
    return row[i].strip() if i is not None and i < len(row) else ""


def _parse_csv(path: Path, display: str, site: Site, month: Month) -> Entries:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError([Problem(display, None, "", None, f"cannot read file: {exc}")]) from exc
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    c = _Checker(display, site, month)
    if not rows:
        c.bad(None, "", None, "empty file")
        raise AuditInputError(c.problems)
    header = rows[0]
    cl = _columns(header, _CSV_CHECKLIST)
    gr = _columns(header, _CSV_GRID)
    if {"item", "status"} <= set(cl):
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            item, status, comment = (_cell(row, cl, k) for k in ("item", "status", "comment"))
            c.answer(number, item, status or None, comment or None)
        return c.done()
    if {"week", "partner", "service", "count"} <= set(gr):
        grouped: dict[str, tuple[int, object, dict[tuple[str, str], tuple[int | None, object]]]] = {}
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            week, partner, service, count = (
                _cell(row, gr, k) for k in ("week", "partner", "service", "count")
            )
            line0, people, services = grouped.setdefault(week, (number, None, {}))
            if service == PEOPLE and not partner:
                if people is not None:
                    c.bad(number, f"weeks.{week}.people", count, "people given twice for this week")
                grouped[week] = (line0, count, services)
            elif (partner, service) in services:
                c.bad(number, f"weeks.{week}.{partner}.{service}", count, "given twice for this week")
            else:
                services[(partner, service)] = (number, count)
        for week, (line0, people, services) in grouped.items():
            c.week(line0, week, people, services)
        return c.done()
    c.bad(
        1,
        "header",
        ";".join(header),
        "unknown columns: a checklist has item;status;comment, a grid has week;partner;service;count",
    )
    raise AuditInputError(c.problems)


# --------------------------------------------------------------------------- storing ----


def store_entries(
    store: Store, site: Site, month: Month, entries: Entries, *, by: str, now: datetime
) -> None:
    """Store the checklist (replacing the site's answers for the month) and the grid weeks
    given (replacing those weeks), in one transaction."""
    with store.write(lock=f"audit-entries:{site.id}") as s:
        if entries.answers:
            s.execute(
                delete(PremisesCheck).where(
                    PremisesCheck.site_id == site.id, PremisesCheck.month == str(month)
                )
            )
            for a in entries.answers:
                s.add(
                    PremisesCheck(
                        site_id=site.id,
                        month=str(month),
                        item=a.item,
                        status=a.status,
                        comment=a.comment,
                        source=a.source,
                        entered_by=by,
                        entered_at=now,
                    )
                )
        for w in entries.weeks:
            key = w.week.isoformat()
            s.execute(delete(GridCount).where(GridCount.site_id == site.id, GridCount.week == key))
            s.execute(delete(GridPeople).where(GridPeople.site_id == site.id, GridPeople.week == key))
            for (partner, service), n in sorted(w.services.items()):
                s.add(
                    GridCount(
                        site_id=site.id,
                        week=key,
                        partner=partner,
                        service=service,
                        count=n,
                        entered_by=by,
                        entered_at=now,
                    )
                )
            if w.people is not None:
                s.add(GridPeople(site_id=site.id, week=key, people=w.people, entered_by=by, entered_at=now))


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    item: str
    status: str
    comment: str


def answers_of(store: Store, site_id: str, month: Month) -> dict[str, StoredAnswer]:
    with store.read() as s:
        rows = s.scalars(
            select(PremisesCheck).where(PremisesCheck.site_id == site_id, PremisesCheck.month == str(month))
        )
        return {r.item: StoredAnswer(r.item, r.status, r.comment) for r in rows}


@dataclass(frozen=True, slots=True)
class GridWeek:
    site_id: str
    week: date
    people: int | None
    services: Mapping[tuple[str, str], int]


def grid_weeks(store: Store, site_ids: Sequence[str], first: date, last: date) -> list[GridWeek]:
    """Grid weeks whose Monday is in ``first`` .. ``last`` (inclusive)."""
    a, b = first.isoformat(), last.isoformat()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with store.read() as s:
        for c in s.scalars(
            select(GridCount).where(GridCount.site_id.in_(site_ids), GridCount.week >= a, GridCount.week <= b)
        ):
            out.setdefault((c.site_id, c.week), {"people": None, "services": {}})["services"][
                (c.partner, c.service)
            ] = c.count
        for p in s.scalars(
            select(GridPeople).where(
                GridPeople.site_id.in_(site_ids), GridPeople.week >= a, GridPeople.week <= b
            )
        ):
            out.setdefault((p.site_id, p.week), {"people": None, "services": {}})["people"] = p.people
    return [
        GridWeek(site, date.fromisoformat(week), v["people"], v["services"])
        for (site, week), v in sorted(out.items())
    ]
