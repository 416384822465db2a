"""The sites' agendas (fleet.agenda): ICS parsing and expansion, the feed and its cache.

Recurring events, exceptions (EXDATE, a moved occurrence with RECURRENCE-ID), all-day events,
timezones (Europe/Paris across its DST change, Pacific/Noumea), floating times, what the public
must not see (private events, descriptions), a malformed feed (one-line error, last good agenda
kept) — the feed served by a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleet.agenda import by_day, cached, current, events_between, parse, refresh
from fleet.agenda.feed import http_fetch
from fleet.errors import AgendaError
from fleet.inventory import load_inventory
from fleet.inventory.models import Site
from tests.public.conftest import REPO

PARIS = ZoneInfo("Europe/Paris")
NOUMEA = ZoneInfo("Pacific/Noumea")


def cal(*events: str, extra: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//FR\r\n" + extra + body
            + "END:VCALENDAR\r\n").replace("\n", "\r\n").replace("\r\r\n", "\r\n")


def ev(uid: str, summary: str, *lines: str) -> str:
    return "\n".join([f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:{summary}", *lines])


def week(tz: ZoneInfo, first: date) -> tuple[datetime, datetime]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    return start, start + timedelta(days=7)


WEEKLY = ev("caf", "Permanence CAF", "DTSTART;TZID=Europe/Paris:20260105T090000",
            "DTEND;TZID=Europe/Paris:20260105T120000", "RRULE:FREQ=WEEKLY;BYDAY=MO,TH",
            "LOCATION:Bureau 2", "DESCRIPTION:Mme Durand 06 12 34 56 78")


def test_a_weekly_event_is_expanded_in_the_site_timezone() -> None:
    events = events_between(parse(cal(WEEKLY), "t"), *week(PARIS, date(2026, 3, 2)), PARIS)
    assert [(e.start.isoformat(), e.title, e.location, e.kind) for e in events] == [
        ("2026-03-02T09:00:00+01:00", "Permanence CAF", "Bureau 2", "permanence"),
        ("2026-03-05T09:00:00+01:00", "Permanence CAF", "Bureau 2", "permanence"),
    ]
    assert all("Durand" not in repr(e) for e in events)  # the description never leaves


def test_wall_clock_time_stays_across_the_paris_dst_change() -> None:
    # 2026-03-29: clocks go forward in Paris; the Monday permanence stays at 09:00 local
    events = events_between(parse(cal(WEEKLY), "t"), *week(PARIS, date(2026, 3, 23)), PARIS)
    events += events_between(parse(cal(WEEKLY), "t"), *week(PARIS, date(2026, 3, 30)), PARIS)
    assert [e.start.strftime("%d %H:%M %z") for e in events] == [
        "23 09:00 +0100", "26 09:00 +0100", "30 09:00 +0200", "02 09:00 +0200"]


def test_exdate_and_a_moved_occurrence() -> None:
    text = cal(
        WEEKLY.replace("LOCATION:Bureau 2", "LOCATION:Bureau 2\nEXDATE;TZID=Europe/Paris:20260302T090000"),
        ev("caf", "Permanence CAF (déplacée)", "RECURRENCE-ID;TZID=Europe/Paris:20260305T090000",
           "DTSTART;TZID=Europe/Paris:20260306T140000", "DTEND;TZID=Europe/Paris:20260306T170000",
           "LOCATION:Salle du conseil"),
    )
    events = events_between(parse(text, "t"), *week(PARIS, date(2026, 3, 2)), PARIS)
    assert [(e.start.isoformat(), e.title, e.location) for e in events] == [
        ("2026-03-06T14:00:00+01:00", "Permanence CAF (déplacée)", "Salle du conseil")]


def test_all_day_events_single_and_over_several_days() -> None:
    text = cal(
        ev("fete", "Fête de la citoyenneté : fermé", "DTSTART;VALUE=DATE:20260924",
           "DTEND;VALUE=DATE:20260925"),
        ev("forum", "Forum de l'emploi", "DTSTART;VALUE=DATE:20260922", "DTEND;VALUE=DATE:20260924"),
    )
    first = date(2026, 9, 21)
    events = events_between(parse(text, "t"), *week(NOUMEA, first), NOUMEA)
    assert all(e.all_day for e in events)
    days = by_day(events, [first + timedelta(days=i) for i in range(7)])
    assert [e.title for e in days[date(2026, 9, 22)]] == ["Forum de l'emploi"]
    assert [e.title for e in days[date(2026, 9, 23)]] == ["Forum de l'emploi"]
    assert [e.title for e in days[date(2026, 9, 24)]] == ["Fête de la citoyenneté : fermé"]
    assert days[date(2026, 9, 25)] == []


def test_noumea_site_shows_a_paris_event_in_its_own_time() -> None:
    # a visio permanence set in Paris (09:00 CET) is 19:00 in Nouméa (UTC+11, no DST)
    events = events_between(parse(cal(WEEKLY), "t"), *week(NOUMEA, date(2026, 3, 2)), NOUMEA)
    assert [e.start.isoformat() for e in events] == ["2026-03-02T19:00:00+11:00",
                                                      "2026-03-05T19:00:00+11:00"]


def test_the_demo_semainier_of_noumea() -> None:
    inv = load_inventory(REPO / "inventory")
    site = inv.site("noumea-ps")
    text = (REPO / "inventory" / str(site.agenda)).read_bytes()
    events = events_between(parse(text, "noumea"), *week(NOUMEA, date(2026, 9, 21)), NOUMEA)
    titles = [(e.start.strftime("%a %H:%M"), e.title, e.kind) for e in events]
    assert titles == [
        # Tuesday 22 September is an EXDATE (the CAF permanence does not take place)
        ("Wed 12:30", "Permanence CAFAT (santé, retraite)", "permanence"),
        ("Thu 13:30", "Atelier numérique : créer et lire ses e-mails", "atelier"),
    ]  # the private appointment of Friday is not shown
    assert "00 00 00" not in repr(events)


def test_utc_floating_and_x_wr_timezone_times() -> None:
    utc = ev("u", "Atelier en UTC", "DTSTART:20260302T080000Z", "DTEND:20260302T090000Z")
    floating = ev("f", "Atelier flottant", "DTSTART:20260303T100000", "DTEND:20260303T110000")
    events = events_between(parse(cal(utc, floating), "t"), *week(PARIS, date(2026, 3, 2)), PARIS)
    assert [e.start.isoformat() for e in events] == ["2026-03-02T09:00:00+01:00",
                                                      "2026-03-03T10:00:00+01:00"]
    # Google Calendar exports floating times with the calendar's zone in X-WR-TIMEZONE
    google = cal(floating, extra="X-WR-TIMEZONE:Pacific/Noumea\r\n")
    (only,) = events_between(parse(google, "t"), *week(PARIS, date(2026, 3, 2)), PARIS)
    assert only.start.isoformat() == "2026-03-03T00:00:00+01:00"  # 10:00 in Nouméa


def test_private_and_cancelled_events_are_not_shown() -> None:
    text = cal(
        ev("p", "Rendez-vous de M. X", "DTSTART:20260302T100000", "CLASS:PRIVATE"),
        ev("c", "Rendez-vous confidentiel", "DTSTART:20260302T110000", "CLASS:CONFIDENTIAL"),
        ev("x", "Atelier annulé", "DTSTART:20260302T120000", "STATUS:CANCELLED"),
        ev("o", "Atelier ouvert à tous", "DTSTART:20260302T130000", "CLASS:PUBLIC"),
    )
    events = events_between(parse(text, "t"), *week(PARIS, date(2026, 3, 2)), PARIS)
    assert [e.title for e in events] == ["Atelier ouvert à tous"]


@pytest.mark.parametrize("data, message", [
    ("", "empty agenda"),
    ("<!DOCTYPE html><html><body>Connexion</body></html>", "not an iCalendar file but a web page"),
    ("hello world", "not an iCalendar file (Content line could not be parsed"),
    (cal(ev("b", "Atelier", "DTSTART:2026XX")), "event 'Atelier': DTSTART '2026XX' is not a date"),
    (cal(ev("r", "Atelier", "DTSTART:20260302T100000", "RRULE:FREQ=SOMETIMES")),
     "a repeating event cannot be read"),
])
def test_a_malformed_agenda_is_one_clear_line(data: str, message: str) -> None:
    with pytest.raises(AgendaError) as info:
        parse(data, "agenda of noumea-ps (https://cal.example/x.ics)")
    text = str(info.value)
    assert text.startswith("agenda of noumea-ps (https://cal.example/x.ics): ")
    assert message in text and "\n" not in text and "Traceback" not in text


# --- the feed and its cache, over real HTTP ------------------------------------------------------
class Feed:
    """A calendar server on loopback whose answer the test changes."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.requests = 0
        feed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.requests += 1
                self.send_response(feed.status)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *_args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/semainier.ics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.server.shutdown()


def _site(url: str) -> Site:
    site = load_inventory(REPO / "inventory").site("noumea-ps")
    return site.model_copy(update={"agenda": url})


T0 = datetime(2026, 9, 21, 20, 0, tzinfo=UTC)


def test_the_feed_is_cached_and_the_last_good_copy_kept(feed: Feed, tmp_path: Path) -> None:
    site = _site(feed.url)
    feed.body = cal(WEEKLY).encode()
    first = refresh(site, REPO / "inventory", tmp_path, T0, http_fetch)
    assert first.ok, first.message
    good = cached(site, REPO / "inventory", tmp_path)
    assert good.calendar is not None and good.fetched_at == T0 and good.error is None

    later = T0 + timedelta(hours=5)
    feed.body = b"<html><body>Session expiree</body></html>"
    bad = refresh(site, REPO / "inventory", tmp_path, later, http_fetch)
    assert not bad.ok and "web page" in bad.message and "last good copy is kept" in bad.message
    kept = cached(site, REPO / "inventory", tmp_path)
    assert kept.calendar is not None and kept.stale and "web page" in str(kept.error)
    assert kept.age(later) == timedelta(hours=5)  # shown with its age
    events = events_between(kept.calendar, *week(PARIS, date(2026, 3, 2)), PARIS)
    assert [e.title for e in events] == ["Permanence CAF", "Permanence CAF"]

    feed.status, feed.body = 500, b"oops"
    down = refresh(site, REPO / "inventory", tmp_path, later, http_fetch)
    assert not down.ok and "HTTP 500" in down.message
    assert cached(site, REPO / "inventory", tmp_path).calendar is not None

    feed.status, feed.body = 200, cal(WEEKLY.replace("Permanence CAF", "Permanence CAF v2")).encode()
    assert refresh(site, REPO / "inventory", tmp_path, later, http_fetch).ok
    fresh = cached(site, REPO / "inventory", tmp_path)
    assert not fresh.stale and fresh.fetched_at == later


def test_an_unreachable_feed_is_one_line_and_nothing_to_show(tmp_path: Path) -> None:
    site = _site("http://127.0.0.1:9/none.ics")  # discard port: nothing listens
    res = refresh(site, REPO / "inventory", tmp_path, T0, http_fetch)
    assert not res.ok and "cannot fetch the calendar" in res.message
    assert "no earlier copy to show" in res.message and "\n" not in res.message
    assert cached(site, REPO / "inventory", tmp_path).calendar is None


def test_current_refreshes_at_most_once_per_period(feed: Feed, tmp_path: Path) -> None:
    site = _site(feed.url)
    feed.body = cal(WEEKLY).encode()
    period = timedelta(minutes=15)
    current(site, REPO / "inventory", tmp_path, T0, period, http_fetch)
    current(site, REPO / "inventory", tmp_path, T0 + timedelta(minutes=5), period, http_fetch)
    assert feed.requests == 1
    feed.status = 503
    got = current(site, REPO / "inventory", tmp_path, T0 + period, period, http_fetch)
    assert feed.requests == 2 and got.calendar is not None and got.stale
    current(site, REPO / "inventory", tmp_path, T0 + period + timedelta(minutes=1), period, http_fetch)
    assert feed.requests == 2  # a failing feed is not hammered either


def test_a_file_agenda_goes_through_the_same_cache(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    (inv / "agendas").mkdir(parents=True)
    (inv / "agendas" / "s.ics").write_text(cal(WEEKLY), encoding="utf-8")
    site = _site("agendas/s.ics")
    assert refresh(site, inv, tmp_path / "cache", T0).ok
    (inv / "agendas" / "s.ics").write_text("BEGIN:VCALENDAR\r\nBROKEN", encoding="utf-8")
    res = refresh(site, inv, tmp_path / "cache", T0 + timedelta(days=1))
    assert not res.ok
    assert cached(site, inv, tmp_path / "cache").calendar is not None


def test_fleet_agenda_refresh_and_show(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    inv = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv)
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
    shutil.copytree(REPO / "roles", tmp_path / "roles")

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fleet.cli.main", "agenda", *args, "-i", str(inv),
                               "--cache", str(tmp_path / "cache")], capture_output=True, text=True,
                              timeout=120, check=False, cwd=tmp_path)

    ok = fleet("refresh", "noumea-ps")
    assert ok.returncode == 0 and "noumea-ps: ok" in ok.stdout, ok.stderr
    shown = json.loads(fleet("show", "noumea-ps", "--json").stdout)
    assert shown["error"] is None and shown["source"].endswith("semainier.ics")
    ics = inv / "group_vars/site_noumea_ps/semainier.ics"
    ics.write_text("<html>oops</html>", encoding="utf-8")
    bad = fleet("refresh", "noumea-ps")
    assert bad.returncode == 1 and "web page" in bad.stdout and "last good copy is kept" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
    kept = json.loads(fleet("show", "noumea-ps", "--json").stdout)
    assert "web page" in kept["error"] and kept["fetched_at"] == shown["fetched_at"]
    unknown = fleet("show", "noumea-p")
    assert unknown.returncode != 0 and "unknown site 'noumea-p'" in unknown.stderr + unknown.stdout
