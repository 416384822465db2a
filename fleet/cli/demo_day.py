"""The demo's scripted day on a deployed lab site, with an injected clock (``fleet demo``).

Every step calls the engine's own functions — the ones the CLI's commands and the dashboard
call — and the real ``fleet poll`` (in the controller namespace, ``--clock``); only what stands
for the world is simulated, and said so: a visitor's requests (curl in the guest client), a
guest's files, the printer's error flags (:mod:`fleet.lab.appliance`), the borne's browser
crash, the night's shutdown (the unit the power timer starts), GLPI (:mod:`fleet.lab.glpi_standin`).

The day is the site's last opening day before today (so the dashboard, which runs on the real
clock, shows it in the past), from the PCs' wake-up to their shutdown, then the month's audit.
:func:`play` returns what each step did (also written to ``demo.json``), which the test checks
against the store.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from fleet.audit.entries import checklist, parse_file, store_entries
from fleet.audit.period import parse_month
from fleet.audit.run import AuditOptions, audit_site
from fleet.audit.signing import Signer, sha256_of, vault_key
from fleet.audit.usage import RECORD as WIPE_RECORD
from fleet.cli.common import console, escape
from fleet.errors import LabError
from fleet.handoff import HandoffConfig, run_once
from fleet.handoff.config import GlpiConfig
from fleet.i18n import gettext as _
from fleet.incidents import assign, get_incident, list_incidents
from fleet.inventory import DeviceKind, Inventory, Site
from fleet.inventory.hours import intervals
from fleet.lab import exec_argv, wol
from fleet.lab.appliance import set_printer_errors
from fleet.lab.glpi_standin import STATUS_NAMES, GlpiStandIn
from fleet.lab.paths import CTL_NETNS
from fleet.lab.state import Lab
from fleet.remote.act import act
from fleet.remote.connlog import LOG_DIR
from fleet.remote.power import wake_due
from fleet.remote.pyinfra_run import Target
from fleet.store import Store
from fleet.store.outbox import GLPI, entries_of, queue_ref

HOTLINE = "hotline-demo"
"""The demo's hotline agent (role hotline: incidents and everyday remote actions)."""
ADMIN = "admin-demo"
"""The demo's administrator (role admin: collects the wifi's legal log, personal data)."""
ROLES = f"{HOTLINE}:hotline,{ADMIN}:admin"
AUDITOR = "auditeur-demo"
"""Who enters the premises checklist (a name in the store: ``fleet audit checklist --by``)."""
POWER_UNIT = "relais-power-off.service"
"""What the power_schedule role's timer starts at closing + shutdown_after."""
KIOSK_UNIT = "relais-kiosk.service"
CRASH_DROPIN = "/run/systemd/system/relais-kiosk.service.d/zz-demo-crash.conf"
WATCHDOG_TIMER = "relais-kiosk-watchdog.timer"


@dataclass
class StepLog:
    name: str
    title: str
    at: str
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    laps: dict[str, float] = field(default_factory=dict)
    """Where the step's time went: seconds per part, in order (printed with the step's total)."""
    _mark: float = field(default_factory=time.monotonic, repr=False)

    def lap(self, part: str) -> None:
        """The time since the previous lap (or the step's start) goes to ``part``."""
        now = time.monotonic()
        self.laps[part] = round(self.laps.get(part, 0.0) + now - self._mark, 1)
        self._mark = now


@dataclass(frozen=True)
class ScreenPage:
    """The hall screen's page as the demo serves it: :mod:`fleet.web.screen_serve` (the router
    ``fleet web`` mounts) in the lab's fake internet, where the screen's browser reaches the
    controller (the address of its deployed policy), at the day's clock (``clock_file``)."""

    host: str
    url: str
    clock_file: Path
    log: Path


def browser_fetched(log: Path, client: str) -> int:
    """How many times the screen's browser got its page (the version that reloads itself)."""
    try:
        lines = log.read_text("utf-8").splitlines()
    except OSError:
        return 0
    n = 0
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        n += r.get("client") == client and r.get("query") == "ecran=1" and r.get("status") == 200
    return n


_SERVICES = re.compile(r'<section class="services".*?</section>', re.S)
_SERVICE = re.compile(r'<li class="(?:ok|ko)">(.*?)</li>', re.S)


def services_shown(html: str) -> list[str]:
    """The lines of the hall screen's "En ce moment" section, as the page says them."""
    section = _SERVICES.search(html)
    if section is None:
        return []
    return [unescape(re.sub(r"<span class=\"mark\".*?</span>", "", li)).strip()
            for li in _SERVICE.findall(section.group(0))]


@dataclass
class Day:
    """What the day needs: the lab site, the store, the repository, the GLPI stand-in."""

    lab: Lab
    inventory: Inventory
    site: Site
    store: Store
    db_url: str
    repo: Path
    out_dir: Path
    glpi: GlpiStandIn
    handoff: HandoffConfig
    day: date
    screen_page: ScreenPage | None = None
    """Where the hall screen reads its page, served at the day's clock (see :class:`ScreenPage`)."""
    steps: list[StepLog] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    # ------------------------------------------------------------------- the world ----

    def at(self, hhmm: str) -> datetime:
        """The injected clock: ``hhmm`` site-local on the demo's day."""
        h, m = (int(x) for x in hhmm.split(":"))
        local = datetime(self.day.year, self.day.month, self.day.day, h, m, tzinfo=self.site.tz)
        self.now = local.astimezone(UTC)
        return self.now

    def sh(self, host: str, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command as root on a lab host (nsenter: the world, not the product's SSH)."""
        return subprocess.run(exec_argv(self.lab, host, ["sh", "-c", script]), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def host(self, kind: DeviceKind) -> list[str]:
        return [d.hostname for d in self.site.devices if d.kind is kind]

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 180) -> None:
        """Wait for a condition (never a fixed time); a clear error after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise LabError(_("demo: not within {seconds:.0f} s: {what}").format(seconds=timeout,
                                                                                     what=what))
            time.sleep(0.5)

    # -------------------------------------------------------------------- the product ----

    def poll(self, at: datetime) -> dict[str, Any]:
        """One real ``fleet poll`` cycle of the site from the controller namespace, at ``at``."""
        argv = ["ip", "netns", "exec", CTL_NETNS, sys.executable, "-m", "fleet.cli.main", "poll",
                "--once", "--site", self.site.id, "--clock", at.isoformat(), "--db", self.db_url,
                "--json", "--timeout", "1", "--retries", "1", "--inventory", str(self.inventory.root)]
        done = subprocess.run(argv, cwd=self.repo, capture_output=True, text=True, timeout=180,
                              check=False)
        if done.returncode != 0:
            raise LabError(_("demo: fleet poll failed: {error}").format(
                error=(done.stderr or done.stdout).strip()[-300:]))
        report: dict[str, Any] = json.loads(done.stdout)
        for item in report["opened"]:
            self.say(_("incident opened: {device}/{check}").format(**item))
        for item in report["resolved"]:
            self.say(_("incident resolved: {device}/{check}").format(**item))
        return report

    def act(self, action: str, target: str, *, actor: str = HOTLINE,
            incident: int | None = None) -> Any:
        """A remote action through :func:`fleet.remote.act.act` (what ``fleet act`` calls)."""
        report = act(self.inventory, action, target, store=self.store, actor=actor,
                     incident_id=incident, lab=True, clock=lambda: self.now, timeout=120,
                     boot_timeout=240)
        for r in report.results:
            self.say(f"{action} {r.device}: {r.outcome} — {r.message}")
        return report

    def sync(self) -> Any:
        """One pass of the hand-off sender (what ``fleet handoff sync --once`` runs)."""
        return run_once(self.store, self.handoff, self.inventory, clock=lambda: self.now)

    def screen(self) -> list[str]:
        """What the hall screen says about the services at this instant: its page
        (``/screen/SITE``, at the day's clock) as the screen host fetches it, from the address
        its browser opens."""
        if self.screen_page is None:
            raise LabError(_("demo: the hall screen's page is not served"))
        self.screen_page.clock_file.write_text(self.now.isoformat() + "\n", encoding="utf-8")
        url = self.screen_page.url
        got = self.sh(self.screen_page.host, f"curl -fsS --max-time 10 {shlex.quote(url)}", timeout=30)
        if got.returncode != 0:
            raise LabError(f"{self.screen_page.host}: {url}: {got.stderr.strip()[-200:]}")
        return services_shown(got.stdout)

    def say(self, text: str) -> None:
        console().print("   " + escape(text))

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[StepLog]:
        log = StepLog(name, title, self.now.isoformat())
        local = self.now.astimezone(self.site.tz)
        console().print(f"[bold]{local:%H:%M}[/] {escape(title)}")
        t0 = time.monotonic()
        try:
            yield log
        finally:
            log.seconds = round(time.monotonic() - t0, 1)
            self.steps.append(log)
            laps = ", ".join(f"{part} {sec:.1f}" for part, sec in log.laps.items())
            console().print("   [dim]" + escape(_("({seconds:.1f} s)").format(seconds=log.seconds)
                                             + (f" [{laps}]" if laps else "")) + "[/]")


def demo_day(site: Site, today: date) -> date:
    """The site's last opening day before ``today`` (site-local)."""
    for back in range(1, 30):
        d = today - timedelta(days=back)
        start = datetime(d.year, d.month, d.day, tzinfo=site.tz)
        if intervals(site, start, start + timedelta(days=1)):
            return d
    raise LabError(_("site {site}: no opening day in the last 30 days").format(site=site.id))


def _day_bounds(day: Day) -> tuple[datetime, datetime]:
    start = datetime(day.day.year, day.day.month, day.day.day, tzinfo=day.site.tz)
    spans = intervals(day.site, start, start + timedelta(days=1))
    return spans[0][0], spans[-1][1]


def _power_off(day: Day, hosts: Sequence[str]) -> None:
    """What the power timer does at closing + shutdown_after: start its unit on each host."""
    power_dir = day.lab.paths.site_run(day.site.id) / "power"
    for h in hosts:
        day.sh(h, f"systemctl start --no-block {POWER_UNIT}")
    for h in hosts:
        day.wait_for(_("{host} powered off").format(host=h),
                     lambda h=h: wol.power_state(power_dir, h).get("power") == "off")  # type: ignore[misc]


def _kiosk_running(day: Day, borne: str) -> bool:
    """The kiosk's browser runs (what the monitor's prTable counts: processes named chromium)."""
    return day.sh(borne, "pgrep -x chromium >/dev/null").returncode == 0


def _wipe_records(day: Day, host: str) -> int:
    """How many wipes the host's record holds (one JSON line per wipe that ran)."""
    got = day.sh(host, f"cat {WIPE_RECORD} 2>/dev/null | wc -l").stdout.strip()
    return int(got) if got.isdigit() else 0


def _wipe_running(day: Day, host: str) -> bool:
    return day.sh(host, "pgrep -f '[r]elais-wipe' >/dev/null").returncode == 0


def _ready(day: Day, hosts: Sequence[str], borne: str) -> None:
    """Wait until the woken stations serve again: the borne's browser, each watcher."""
    if borne in hosts:
        day.wait_for(_("the borne's kiosk browser"), lambda: _kiosk_running(day, borne))
    for h in hosts:
        day.wait_for(_("{host}'s session-wipe watcher").format(host=h),
                     lambda h=h: _wipe_running(day, h))  # type: ignore[misc]


def needs(site: Site) -> None:
    """The kinds of device the demo's story needs (a one-line refusal otherwise)."""
    missing = [k.value for k in (DeviceKind.GATEWAY, DeviceKind.PUBLIC_PC, DeviceKind.BORNE,
                                 DeviceKind.PRINTER, DeviceKind.SCREEN)
               if not any(d.kind is k for d in site.devices)]
    if missing or site.power is None:
        what = ", ".join(missing) + (" site_power" if site.power is None else "")
        raise LabError(_("site {site}: the demo needs a gateway, public PCs, a borne, a printer, a "
                         "hall screen and site_power; missing: {what}").format(site=site.id,
                                                                             what=what.strip()))


def _reachable(day: Day) -> list[str]:
    """Devices of the site whose reachability the monitor has as up (they answer, whatever
    else their answer says)."""
    from sqlalchemy import select

    from fleet.store.models import Observation

    names = [d.hostname for d in day.site.devices]
    with day.store.read() as session:
        rows = session.scalars(select(Observation).where(Observation.check == "reachability",
                                                         Observation.device.in_(names)))
        return sorted(r.device for r in rows if r.status == "up")


def _open_incident(day: Day, device: str, check: str) -> int | None:
    for inc in list_incidents(day.store, site_id=day.site.id, statuses=None):
        if inc.device == device and inc.check == check and inc.is_open:
            return inc.id
    return None


def play(day: Day, *, audit: bool = True) -> list[StepLog]:
    """The scripted day (see the module's docstring); each step printed with its duration."""
    site = day.site
    needs(site)
    pcs = day.host(DeviceKind.PUBLIC_PC)
    [borne, *_others] = day.host(DeviceKind.BORNE)
    [gateway] = day.host(DeviceKind.GATEWAY)
    [printer, *_p] = day.host(DeviceKind.PRINTER)
    powered = [d.hostname for d in site.devices if site.power and site.power.applies_to(d.kind.value)]
    opens, closes = _day_bounds(day)
    local_open = opens.astimezone(site.tz)
    day.now = opens - timedelta(minutes=60)

    with day.step("night", _("Night: the PCs and the borne are off (shut down by their "
                             "power timer the evening before)")) as log:
        _power_off(day, powered)
        report = day.poll(day.at(f"{local_open.hour - 1:02d}:{local_open.minute:02d}"))
        log.facts = {"powered_off": powered, "answered": report["answered"],
                     "opened": report["opened"]}
        day.say(_("site closed: {n} devices do not answer, as expected; no incident").format(
            n=report["devices"] - report["answered"]))

    wake_at = opens - timedelta(minutes=site.power.wake_before if site.power else 20)
    day.now = wake_at
    with day.step("opening", _("Opening: the PCs and the borne are woken (Wake-on-LAN from the "
                               "gateway) before the doors open")) as log:
        results = wake_due(day.store, [site], wake_at, lab=True, wait=True, timeout=120,
                           boot_timeout=240)
        for r in results:
            day.say(f"wake {r.device}: {r.outcome} — {r.message}")
        log.lap("wake")
        _ready(day, powered, borne)
        log.lap("ready")
        for minute in (0, 1):
            report = day.poll(opens + timedelta(minutes=minute))
        log.lap("polls")
        day.now = opens + timedelta(minutes=1)
        log.facts = {"woken": {r.device: r.outcome for r in results}, "answered": report["answered"],
                     "devices": report["devices"], "reachable": _reachable(day)}
        day.say(_("open at {time}: {answered} of {devices} devices answer").format(
            time=f"{local_open:%H:%M}", answered=report["answered"], devices=report["devices"]))
        day.say(_("hall screen: {lines}").format(lines=" · ".join(day.screen())))
        if day.screen_page is not None:
            screen = next(d for d in site.devices if d.hostname == day.screen_page.host)
            log.facts["screen_browser_fetches"] = browser_fetched(day.screen_page.log, str(screen.ip))

    day.at("09:30")
    with day.step("wifi", _("A visitor uses the public wifi: the captive portal's terms, then "
                            "the internet (the lab's fake one)")) as log:
        log.facts = _visitor(day, gateway)

    day.at("10:15")
    guest_pc = pcs[-1]
    with day.step("wipe", _("A session ends on {host}: the guest's files are wiped, with its "
                            "record").format(host=guest_pc)) as log:
        plant = ("install -d -o guest -g guest /home/guest/Téléchargements && "
                 "echo 'avis imposition' > /home/guest/Téléchargements/avis.pdf && "
                 "chown guest:guest /home/guest/Téléchargements/avis.pdf")
        planted = day.sh(guest_pc, plant)
        if planted.returncode != 0:
            raise LabError(f"{guest_pc}: {planted.stderr.strip()[-300:]}")
        report = day.act("wipe-now", guest_pc)
        gone = day.sh(guest_pc, "test ! -e /home/guest/Téléchargements/avis.pdf").returncode == 0
        [r] = report.results
        log.facts = {"host": guest_pc, "outcome": r.outcome, "record": dict(r.data.get("record", {})),
                     "file_gone": gone}
        day.say(_("the guest's download is gone: {gone}").format(gone=_("yes") if gone else _("NO")))

    day.at("11:00")
    with day.step("toner", _("The printer's toner runs low, then out: the hotline sees it, the "
                             "hall screen tells the public")) as log:
        set_printer_errors(day.lab, site.id, printer, ["low_toner"])
        day.poll(day.now)
        low = day.screen()
        day.say(_("hall screen (toner low): {lines}").format(lines=" · ".join(low)))
        day.at("11:30")
        set_printer_errors(day.lab, site.id, printer, ["low_toner", "no_toner"])
        day.poll(day.now)
        out = day.screen()
        day.say(_("hall screen (toner empty): {lines}").format(lines=" · ".join(out)))
        day.at("13:45")
        set_printer_errors(day.lab, site.id, printer, [])
        day.poll(day.now)
        day.say(_("toner replaced: hall screen: {lines}").format(lines=" · ".join(day.screen())))
        log.facts = {"screen_low": low, "screen_empty": out, "screen_after": day.screen()}

    day.at("14:30")
    with day.step("kiosk", _("The borne's browser crashes and stays down: incident, handed to "
                             "the SAV's GLPI, restarted by the hotline, solved on recovery")) as log:
        log.facts = _kiosk_crash(day, borne, log)

    with day.step("closing", _("Closing: the PCs and the borne shut down by their timer; the "
                               "monitor expects them off: no alert")) as log:
        day.now = closes + timedelta(minutes=site.power.shutdown_after if site.power else 30)
        before = {i.id for i in list_incidents(day.store, site_id=site.id, statuses=None)}
        _power_off(day, powered)
        log.lap("power-off")
        opened: list[Any] = []
        # as many polls as an unreachable device needs to become an incident (fail_after: 3)
        for minute in (5, 6, 7):
            opened += day.poll(day.now + timedelta(minutes=minute))["opened"]
        log.lap("polls")
        after = {i.id for i in list_incidents(day.store, site_id=site.id, statuses=None)}
        log.facts = {"powered_off": powered, "opened": opened, "new_incidents": sorted(after - before)}
        day.say(_("{n} polls after closing, new incidents: {count}").format(
            n=3, count=len(after - before)))

    if audit:
        with day.step("audit", _("The month's audit: the stations woken, a canary wipe, the "
                                 "deploy's checks, the store's figures, a signed report")) as log:
            log.facts = _audit(day, powered, opens, borne, log)
    return day.steps


def _visitor(day: Day, gateway: str) -> dict[str, Any]:
    """A visitor's phone (the lab's guest client): DHCP from the gateway, the portal's page,
    the button, then a page of the (fake) internet; the legal log collected by the admin."""
    guest = f"{day.site.id}-guest"
    gw_ip = day.site.guest_gateway_ip

    def page(cmd: str) -> str:
        # the portal's pages come from openNDS's shell scripts: the first one after a deploy
        # took over 10 s on a loaded machine (a lab test's run of 2026-12-01); a phone waits 30
        return day.sh(guest, cmd, timeout=60).stdout

    def online() -> str:
        return page("curl -s -m 10 http://example.com/demo")

    connected, said, attempts, refused = False, False, 0, ""
    for attempts in range(1, 4):  # as a visitor does: the portal's "Réessayer" link
        splash = ""
        for _attempt in range(8):
            splash = page("curl -s -m 30 -L http://example.com/")
            if 'name="fas"' in splash or "Relais lab fake internet" in splash:
                break
            time.sleep(2)  # openNDS still starting after the gateway's boot: the visitor retries
        if "Relais lab fake internet" in splash:
            # the previous try went through after all (its answer page was lost): online
            connected = True
            break
        m = re.search(r'name="fas" value="([^"]+)"', splash)
        if m is None:
            got = " ".join(re.sub(r"<[^>]+>", " ", splash).split())[:120] or _("nothing")
            raise LabError(_("demo: the captive portal did not show its page to the visitor "
                             "(got: {text})").format(text=got))
        if attempts == 1:
            day.say(_("the visitor's phone gets the portal's page (terms of use, in French)"))
        done = page(f"curl -s -m 30 'http://{gw_ip}:2050/opennds_preauth/?fas={m.group(1)}&landing=yes'")
        said = "Vous êtes connecté" in done
        connected = said or "Relais lab fake internet" in online()
        if connected:
            break
        answer = re.search(r'<section id="echec">(.*?)</section>', done, re.S)
        refused = " ".join(re.sub(r"<[^>]+>", " ", answer.group(1) if answer else done).split())[:200]
        day.say(_("the portal answers: {text}; the visitor tries again").format(text=refused or "?"))
        time.sleep(3)
    day.say(_("accepted the terms: {text}").format(
        text="« Vous êtes connecté »" if said else _("online") if connected else "?"))
    after = ""
    for _attempt in range(10):
        after = online()
        if "Relais lab fake internet" in after:
            break
        time.sleep(1)
    browsing = "Relais lab fake internet" in after
    day.say(_("then browses: {ok}").format(ok=_("yes") if browsing else _("NO")))
    if browsing:  # the gateway writes what it saw at its next snapshot (every few seconds)
        logged = f"cat {LOG_DIR}/*.jsonl 2>/dev/null | grep -q '\"kind\":\"nat\"'"
        day.wait_for(_("the visitor's connection in the gateway's legal log"),
                     lambda: day.sh(gateway, logged).returncode == 0, timeout=60)
    collected = day.act("collect-connlog", gateway, actor=ADMIN)
    [r] = collected.results
    return {"connected": connected, "portal_said_connected": said, "browsing": browsing,
            "connlog": r.outcome, "records": dict(r.data).get("inserted"), "attempts": attempts,
            "refused": refused}


def _poll_until(day: Day, seen: Callable[[], int | None], *, at_least: int = 1,
                timeout: float = 120) -> int | None:
    """Poll once a minute of the day's clock (``day.now`` moves on) until ``seen()`` gives an
    incident, at least ``at_least`` times; None when ``timeout`` real seconds went by first."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        day.now += timedelta(minutes=1)
        day.poll(day.now)
        polls += 1
        found = seen()
        if polls >= at_least and (found is not None or time.monotonic() > deadline):
            return found
        if found is None and polls >= at_least:
            time.sleep(1)  # pace the polls (the day's clock does not need a minute per poll)


def _kiosk_crash(day: Day, borne: str, log: StepLog) -> dict[str, Any]:
    # Restart=always would bring the browser back within 2 s, and the kiosk's watchdog timer
    # within a minute (no incident: as it should be); for the demo it stays down until the
    # hotline acts: a runtime drop-in and the watchdog timer stopped, both undone before the
    # restart.  The drop-in also makes every start a no-op (a condition that fails while the
    # drop-in exists): the session wipe that follows the kiosk's session end starts the kiosk
    # again after wiping.  (`systemctl mask --runtime` did not stop that: a runtime mask in
    # /run/systemd/system ranks below the role's unit in /etc/systemd/system.)
    dropin = f"[Unit]\\nConditionPathExists=!{CRASH_DROPIN}\\n[Service]\\nRestart=no\\n"
    day.sh(borne, f"mkdir -p {shlex.quote(str(Path(CRASH_DROPIN).parent))} && "
                  f"printf '{dropin}' > {CRASH_DROPIN} && systemctl daemon-reload && "
                  f"systemctl stop {WATCHDOG_TIMER}")
    # the browser crashes: every Chromium process of the borne is killed, and what is left in
    # the kiosk's unit
    wipes = _wipe_records(day, borne)
    day.sh(borne, f"pkill -KILL -x chromium; systemctl kill --signal=SIGKILL {KIOSK_UNIT}; "
                  "pkill -KILL -x chromium; true")
    # the kiosk's session ended: its wipe first asks the end-of-session question in a browser
    # window of its own (20 s, bounded at 40 s), then ends every process of the guest; the
    # browser is gone once that wipe is done (longer on a loaded machine: the default bound).
    # The monitor polls after that wipe's record: the agent reads its process table at most
    # every 30 s, and a reading taken while the question's window is up would count a
    # browser for 30 s more.  (A wipe that finds the session already wiped writes nothing and
    # asks nothing: the wait gives up after 60 s and the polls tell.)
    deadline = time.monotonic() + 60
    while _wipe_records(day, borne) <= wipes and time.monotonic() < deadline:
        time.sleep(0.5)
    day.wait_for(_("the kiosk browser to be gone"), lambda: not _kiosk_running(day, borne))
    day.say(_("the borne's browser crashed (killed)"))
    log.lap("crash")
    # the monitor polls every minute (the day's clock) until it has seen the browser missing
    # on two polls in a row; the agent may serve its process table from a cache for a while,
    # so how many polls that takes is the agent's business, bounded in real time
    incident = _poll_until(day, lambda: _open_incident(day, borne, "kiosk"), at_least=2)
    log.lap("seen")
    seen_at = day.now  # the hotline's steps follow, minutes later on the day's clock
    if incident is None:
        # the monitor could not see it: say why, restart the browser all the same, go on
        access = _open_incident(day, borne, "snmp_access")
        why = get_incident(day.store, access).title if access is not None else _("no reading")
        running = day.sh(borne, "pgrep -a -x chromium | cut -c1-120").stdout.strip()
        if running:  # the agent counted a browser: which one (it came back, or never went)
            why = f"{why}; chromium: {' | '.join(running.splitlines()[:3])}"
        day.say(_("NO kiosk incident: the monitor does not read the borne's processes ({why}); "
                  "see docs/demo.md").format(why=why))
        day.sh(borne, f"rm -f {CRASH_DROPIN} && "
                      f"systemctl daemon-reload && systemctl start {WATCHDOG_TIMER}")
        day.now = seen_at + timedelta(minutes=4)
        restarted = day.act("restart-kiosk", borne)
        return {"incident": None, "problem": why, "restart": [r.outcome for r in restarted.results],
                "screen": day.screen()}
    screen = day.screen()
    day.say(_("hall screen: {lines}").format(lines=" · ".join(screen)))
    day.now = seen_at + timedelta(minutes=2)
    assign(day.store, incident, to=day.site.sav, who=HOTLINE, at=day.now,
           text=_("Borne browser down: handed to the SAV"))
    sent = day.sync()
    ticket = queue_ref(day.store, incident, GLPI)
    day.say(_("incident #{id} handed to the SAV: GLPI ticket {ticket} ({n} deliveries)").format(
        id=incident, ticket=ticket, n=len(sent.delivered)))
    day.sh(borne, f"rm -f {CRASH_DROPIN} && "
                  f"systemctl daemon-reload && systemctl start {WATCHDOG_TIMER}")
    day.now = seen_at + timedelta(minutes=4)
    log.lap("hand-off")
    restarted = day.act("restart-kiosk", borne, incident=incident)
    log.lap("restart")
    _poll_until(day, lambda: None if get_incident(day.store, incident).is_open else incident)
    log.lap("recovered")
    day.now += timedelta(minutes=1)
    final = get_incident(day.store, incident)
    sent2 = day.sync()
    entries = entries_of(day.store, incident)
    status = None
    if ticket is not None:
        t = day.glpi.tickets.get(int(ticket))
        status = STATUS_NAMES.get(int(t["status"])) if t else None
    day.say(_("incident #{id}: {status}; GLPI ticket {ticket}: {glpi}").format(
        id=incident, status=final.status, ticket=ticket, glpi=status))
    return {"incident": incident, "status": final.status, "resolved_by": final.resolved_by,
            "restart": [r.outcome for r in restarted.results], "ticket": ticket,
            "glpi_status": status, "delivered": len(sent.delivered) + len(sent2.delivered),
            "outbox": sorted({e.status for e in entries if e.channel == GLPI}), "screen": screen}


def _audit(day: Day, powered: Sequence[str], opens: datetime, borne: str,
           log: StepLog) -> dict[str, Any]:
    site = day.site
    # the next morning's wake (the audit reads the live stations)
    morning = opens + timedelta(days=1) - timedelta(minutes=15)
    results = wake_due(day.store, [site], morning, lab=True, wait=True, timeout=120, boot_timeout=240)
    day.now = morning
    if not results:  # the next day is not an opening day: wake them as the hotline would
        for h in powered:
            day.act("wake", h)
    log.lap("wake")
    _ready(day, powered, borne)
    log.lap("ready")
    month = parse_month(f"{day.day:%Y-%m}")
    # the auditor's premises checklist, as a file the way `fleet audit checklist --from` takes
    # it (docs/auditor.md): every item that concerns the site, found in order this month
    import yaml

    sheet = day.out_dir / f"check-list-{site.id}-{month}.yml"
    sheet.parent.mkdir(parents=True, exist_ok=True)
    items = {i.id: "ok" for i in checklist().items if i.applies(site)}
    sheet.write_text(yaml.safe_dump({"site": site.id, "month": str(month), "items": items},
                                    allow_unicode=True, sort_keys=False), encoding="utf-8")
    entered = parse_file(sheet, site, month)
    store_entries(day.store, site, month, entered, by=AUDITOR, now=day.now)
    day.say(_("the auditor's premises checklist: {n} items entered ({path})").format(
        n=len(entered.answers), path=sheet))
    ssh_config = day.lab.paths.ssh_config
    options = AuditOptions(repo=day.repo, out_dir=day.out_dir, lab=True, ssh_config=ssh_config,
                           extra_inventories=(day.lab.paths.site_inventory(site.id),), user=HOTLINE)
    targets = [Target(d.hostname, str(d.ip), "relais", day.lab.paths.ssh_key, ssh_config)
               for d in site.devices if d.kind.is_host]
    done = audit_site(day.inventory, site, month, store=day.store, options=options,
                      signer=Signer(vault_key(Path(day.inventory.root)), "relais-demo"),
                      targets=targets, clock=lambda: day.now)
    log.lap("audit")  # its parts (canary, checks, collect, report) are in the facts' seconds
    pdf = done.files["pdf"]
    digest = sha256_of(pdf)
    day.say(_("report {path}: verdict {verdict}, SHA-256 {sha}").format(
        path=pdf, verdict=done.report.verdict, sha=digest[:16] + "…"))
    return {"audit_id": done.audit_id, "verdict": done.report.verdict,
            "checklist": {"file": str(sheet), "items": len(entered.answers)},
            "skipped": [f"{f.target} {f.item}: {f.message}" for f in done.report.skipped][:20],
            "files": {k: str(v) for k, v in done.files.items()},
            "sha256": {k: s.sha256 for k, s in done.signatures.items()},
            "failures": [f"{f.target} {f.item}: {f.message}" for f in done.report.failures][:20],
            "seconds": {k: round(v, 1) for k, v in done.seconds.items()}}


def glpi_for(site: Site) -> tuple[GlpiStandIn, HandoffConfig]:
    """The GLPI stand-in, started, knowing the site's SAV supplier and its hosts; and the
    hand-off settings that point at it (API v1)."""
    standin = GlpiStandIn().start()
    standin.add_supplier(site.sav.name)
    for d in site.devices:
        if d.kind is DeviceKind.PRINTER:
            standin.add_asset("Printer", d.hostname)
        elif d.kind.is_host:
            standin.add_asset("Computer", d.hostname)
    config = HandoffConfig(glpi=GlpiConfig(url=standin.url, api="v1",
                                           app_token=SecretStr(standin.app_token),
                                           user_token=SecretStr(standin.user_token)),
                           instance="relais-demo")
    return standin, config


def summary(steps: Sequence[StepLog]) -> list[Mapping[str, Any]]:
    return [{"name": s.name, "title": s.title, "at": s.at, "seconds": s.seconds, "laps": s.laps,
             "facts": s.facts} for s in steps]


__all__ = ["ADMIN", "HOTLINE", "ROLES", "Day", "ScreenPage", "StepLog", "browser_fetched",
           "demo_day", "glpi_for", "needs", "play", "services_shown", "summary"]
