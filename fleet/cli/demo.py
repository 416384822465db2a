"""`fleet demo`: the main job, end to end, on one lab site — saying what each step does and how
long it took.  `fleet demo down` takes it away.

1. the inventory: validate it, summarise the network;
2. the lab images: built once, cached (progress shown);
3. the demo site up as real hosts, deployed and verified: the first time by a real ``fleet
   deploy --lab`` (the deploy and its checks, recorded in the store), after which the deployed
   hosts are kept as a snapshot (:mod:`fleet.lab.snapshot`, keyed by a hash of roles,
   playbooks, inventory and images) with the store that recorded it; the next runs restore it;
4. the hotline's dashboard (``fleet web``, a background process) on the demo's own SQLite
   store, with a demo login; the GLPI stand-in; the hall screen's page (``/screen/SITE``,
   :mod:`fleet.web.screen_serve`) served in the lab's fake internet where the screen host's
   browser reaches the controller, at the day's clock; the poller (``fleet poll`` with an
   injected clock, in the lab's controller namespace);
5. a scripted day (:mod:`fleet.cli.demo_day`) and the month's signed audit report;
6. where to look: the dashboard's address and login, the incidents, the report.

The demo only ever targets the lab (``--lab`` is implied; ``--no-lab`` validates only).  The
site, the dashboard and the store stay until ``fleet demo down`` (or ``--no-keep``).  It runs
under the lab lock (one lab run at a time on a machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, escape, opened_store
from fleet.errors import ConfigError, LabError
from fleet.i18n import N_
from fleet.i18n import gettext as _
from fleet.inventory import DeviceKind, Inventory, is_open, load_inventory

DEMO_SITE = "florac-fs"
"""The inventory's site that best fits the story: a gateway with its captive portal, two public
PCs (one PMR), a borne, a hall screen, a printer, a switch (and an AP, a UPS); the lab adds a
guest client."""
STATE = "demo.json"

app = typer.Typer()


def _summary(inv: Inventory, now: datetime) -> None:
    out = console()
    out.print(escape(_("inventory OK: {sites} sites, {devices} devices ({vault})").format(
        sites=len(inv.sites), devices=len(inv.devices),
        vault=_("demo vault") if inv.demo_vault else _("own vault"))))
    table = Table(_("kind"), _("site count"), _("open now"), _("public PCs"), "PMR", _("bornes"),
                  _("gateways"), box=None)
    for k in sorted({s.kind.value for s in inv.sites}):
        sites = [s for s in inv.sites if s.kind.value == k]
        devs = [d for s in sites for d in s.devices]
        table.add_row(
            k, str(len(sites)), str(sum(is_open(s, now) for s in sites)),
            str(sum(d.kind is DeviceKind.PUBLIC_PC for d in devs)), str(sum(d.pmr for d in devs)),
            str(sum(d.kind is DeviceKind.BORNE for d in devs)),
            str(sum(d.kind is DeviceKind.GATEWAY for d in devs)),
        )
    out.print(table)


def demo_dir() -> Path:
    """Where the demo keeps its store, report, dashboard log and state: ``<state_dir>/demo``."""
    return Path(settings.get("state_dir")).resolve() / "demo"


def _read_state(where: Path) -> dict[str, Any]:
    try:
        data = json.loads((where / STATE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(where: Path, data: dict[str, Any]) -> None:
    where.mkdir(parents=True, exist_ok=True)
    tmp = where / (STATE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(where / STATE)


@contextmanager
def _timed(title: str) -> Iterator[dict[str, Any]]:
    out = console()
    out.print(f"[bold]{escape(title)}[/]")
    t0 = time.monotonic()
    facts: dict[str, Any] = {}
    yield facts
    facts["seconds"] = round(time.monotonic() - t0, 1)
    out.print("   [dim]" + escape(_("({seconds:.1f} s)").format(seconds=facts["seconds"])) + "[/]")


def _stop_web(state: dict[str, Any]) -> bool:
    """Stop the dashboard this demo started (its own process group, by the pid it recorded)."""
    return _stop(state, "web_pid", b"web")


def _stop_screen_page(state: dict[str, Any]) -> bool:
    """Stop the hall screen's page server this demo started in the lab's fake internet."""
    return _stop(state, "screen_pid", b"fleet.web.screen_serve")


def _stop(state: dict[str, Any], key: str, marker: bytes) -> bool:
    pid = state.pop(key, None)
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if marker not in cmdline or not any(b"fleet" in c for c in cmdline):
        return False  # not our process any more (the pid was reused)
    try:
        os.killpg(pid, 15)
    except ProcessLookupError:
        return False
    for _i in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    return True


SCREEN_POLICY = "/etc/chromium/policies/managed/relais-screen.json"
"""The hall screen's deployed browser policy (roles/hall_screen): the page it opens."""
SCREEN_UNIT = "relais-screen.service"


def _start_screen_page(lab_: Any, site: Any, where: Path, db_url: str,
                       inventory_root: Path) -> tuple[int, Any]:
    """Serve the hall screen's page (``/screen/SITE``, the router ``fleet web`` mounts) where the
    screen reaches the controller: in the lab's fake internet, at the address of the screen's
    deployed policy, on the demo's store and the day's clock.  The screen's browser is started
    again on it (its page, as every night) and the demo waits for its first request."""
    from urllib.parse import urlsplit

    from fleet.cli.demo_day import ScreenPage, browser_fetched
    from fleet.lab import exec_argv
    from fleet.lab.plan import FAKENET_IP, NodeKind, plan_site

    [screen, *_more] = [d for d in site.devices if d.kind is DeviceKind.SCREEN]

    def on_screen(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(exec_argv(lab_, screen.hostname, list(argv)), capture_output=True,
                              text=True, timeout=60, check=False)

    try:
        url = str(json.loads(on_screen("cat", SCREEN_POLICY).stdout)["RestoreOnStartupURLs"][0])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LabError(_("{host}: no deployed hall-screen policy ({path})").format(
            host=screen.hostname, path=SCREEN_POLICY)) from exc
    parts = urlsplit(url)
    inet = next(n for n in plan_site(site).nodes if n.kind is NodeKind.FAKENET)
    clock, log = where / "screen-clock", where / "screen-access.jsonl"
    log.unlink(missing_ok=True)
    with (where / "screen.log").open("ab") as err:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", inet.netns, sys.executable, "-m", "fleet.web.screen_serve",
             "--host", str(FAKENET_IP), "--port", str(parts.port or 80), "--db", db_url,
             "--clock-file", str(clock), "--cache", str(where / "agenda"), "--log", str(log),
             "--inventory", str(inventory_root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
            start_new_session=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise LabError(_("the hall screen's page server stopped at start (see {log})").format(
                log=where / "screen.log"))
        page = ScreenPage(screen.hostname, parts._replace(query="").geturl(), clock, log)
        on_screen("systemctl", "restart", SCREEN_UNIT)
        deadline = time.monotonic() + 60
        while not browser_fetched(log, str(screen.ip)):
            if time.monotonic() > deadline:
                raise LabError(_("{host}: its browser did not ask for {url} within 60 s").format(
                    host=screen.hostname, url=url))
            time.sleep(0.5)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        raise
    return proc.pid, page


def _start_web(where: Path, db_url: str, inventory_root: Path, host: str, port: int) -> int:
    """``fleet web --lab``: the device pages' remote actions reach the lab copy of the site, as
    every command the demo runs does (never the site's real addresses)."""
    log = where / "web.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet.cli.main", "web", "--db", db_url, "--inventory",
             str(inventory_root), "--host", host, "--port", str(port), "--lab"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )
    url = f"http://{host}:{port}/login"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(_("the dashboard stopped at start (see {log})").format(log=log))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc.pid
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise LabError(_("the dashboard did not answer on {url} within 60 s (see {log})").format(
        url=url, log=log))


def _copy_db(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    target.chmod(0o600)


def _fresh_db(path: Path) -> None:
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        f.unlink(missing_ok=True)


@contextmanager
def _roles() -> Iterator[None]:
    """The demo's two actors and their roles (settings ``user_roles``), for this run only."""
    from fleet.cli.demo_day import ROLES

    old = os.environ.get("FLEET_USER_ROLES")
    os.environ["FLEET_USER_ROLES"] = f"{old},{ROLES}" if old else ROLES
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("FLEET_USER_ROLES", None)
        else:
            os.environ["FLEET_USER_ROLES"] = old


@app.callback(invoke_without_command=True,
              help=N_("The main job end to end on one lab site: images, deploy (or its cached "
                      "snapshot), dashboard, a scripted day, the month's audit. 'fleet demo "
                      "down' takes it away."))
def demo(
    ctx: typer.Context,
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help=N_("Inventory directory (default: FLEET_INVENTORY or ./inventory)."))
    ] = None,
    site_id: Annotated[str, typer.Option("--site", help=N_("The site to rehearse."))] = DEMO_SITE,
    lab: Annotated[bool, typer.Option(
        "--lab/--no-lab", help=N_("The demo targets the lab copy of the site (always); --no-lab "
                                  "only validates and summarises the inventory."))] = True,
    keep: Annotated[bool, typer.Option(
        "--keep/--no-keep", help=N_("Leave the site and the dashboard up at the end (until 'fleet "
                                    "demo down')."))] = True,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help=N_("Deploy again even when a deployed snapshot of the site is cached."))] = False,
    port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                      help=N_("The dashboard's port on 127.0.0.1."))] = 8080,
    web: Annotated[bool, typer.Option("--web/--no-web", help=N_("Start the dashboard."))] = True,
    audit: Annotated[bool, typer.Option("--audit/--no-audit", help=N_("End with the month's audit."))] = True,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from fleet.lab.lock import lab_lock

    t_start = time.monotonic()
    inv = load_inventory(inventory)
    root = Path(inv.root).resolve()
    repo = root.parent
    from fleet.cli.demo_day import needs

    with _timed(_("1. Inventory: validate and summarise")):
        _summary(inv, datetime.now(UTC))
        site = inv.site(site_id)
        needs(site)
    if not lab:
        console().print(_("--no-lab: lab, deploy, dashboard and the day skipped."))
        return
    if os.geteuid() != 0:
        console().print("[yellow]" + escape(_(
            "the lab needs root (network namespaces, systemd-nspawn): the rest is skipped; run "
            "as root for the whole demo.")) + "[/]")
        return
    where = demo_dir()
    where.mkdir(parents=True, exist_ok=True)
    previous = _read_state(where)
    if previous:
        _stop_web(previous)
        _stop_screen_page(previous)
    db = where / "fleet.sqlite"
    db_url = f"sqlite:///{db}"
    state: dict[str, Any] = {"site": site.id, "db": db_url, "inventory": str(root),
                             "started_at": datetime.now(UTC).isoformat(), "steps": {}}
    with lab_lock():
        ok = False
        try:
            with _roles():
                _run(inv, site, repo, where, db, state, fresh=fresh, web=web, port=port, audit=audit)
            ok = True
        finally:
            state["seconds"] = round(time.monotonic() - t_start, 1)
            if not keep or not ok:
                _take_down(where, state, site.id, root)
            _write_state(where, state)
    _print_end(state, keep)


def _run(inv: Inventory, site: Any, repo: Path, where: Path, db: Path, state: dict[str, Any], *,
         fresh: bool, web: bool, port: int, audit: bool) -> None:
    from fleet.cli.demo_day import Day, demo_day, glpi_for, play, summary
    from fleet.deploy import DeployOptions, StoreRecorder, deploy_site
    from fleet.incidents.publicstatus import day_label
    from fleet.lab import build, make_lab, snapshot, up
    from fleet.store.users import create_user

    out = console()
    lab_ = make_lab(Path(inv.root))
    steps = state["steps"]
    with _timed(_("2. Lab images (built once, then cached)")) as facts:
        built = build(lab_.paths, progress=lambda m: out.print("   " + escape(m)))
        facts["built"] = list(built)
        out.print("   " + escape(_("built: {names}").format(names=", ".join(built)) if built
                                  else _("all cached")))
    steps["images"] = facts

    key = snapshot.snapshot_key(lab_, site, repo, Path(inv.root))
    snap = None if fresh else snapshot.find(lab_, site, key)
    pristine = where / "deployed.sqlite"
    _fresh_db(db)
    with _timed(_("3. The site {site} up, deployed and verified").format(site=site.id)) as facts:
        if snap is not None and pristine.is_file() and _key_of(pristine) == key:
            seconds = snapshot.restore(lab_, site, snap)
            out.print("   " + escape(_("deployed snapshot {key} restored in {seconds:.1f} s ({mb} MB): "
                                       "deployed and verified by an earlier run, nothing changed "
                                       "since (roles, playbooks, inventory, images)").format(
                key=key, seconds=seconds, mb=snap.bytes // 1_000_000)))
            result = up(lab_, site, keep_state=True, progress=lambda m: out.print("   " + escape(m)))
            _copy_db(pristine, db)
            facts.update(source="snapshot", key=key, restore_s=round(seconds, 1),
                         up_s=round(result.seconds, 1))
        else:
            from fleet.lab import down

            down(lab_, site.id)  # a clean factory site: nothing of an earlier run
            result = up(lab_, site, progress=lambda m: out.print("   " + escape(m)))
            out.print("   " + escape(_("{n} hosts up in {seconds:.1f} s; deploying (the first time: "
                                       "several minutes)").format(n=len(result.nodes),
                                                                   seconds=result.seconds)))
            with opened_store(f"sqlite:///{db}", create=True) as store:
                t0 = time.monotonic()
                outcome = deploy_site(
                    inv, site.id, repo=repo,
                    options=DeployOptions(extra_inventories=(lab_.paths.site_inventory(site.id),),
                                          ssh_config=lab_.paths.ssh_config, lab=True),
                    recorder=StoreRecorder(store), user="relais-demo", on_host=_host_done)
            deploy_s = time.monotonic() - t0
            verified = outcome.checks is not None and outcome.checks.ok
            out.print("   " + escape(_("deploy #{id}: {outcome}, verification {verdict} ({seconds:.0f} s)")
                                     .format(id=outcome.deploy_id, outcome=outcome.outcome,
                                             verdict=_("green") if verified else _("NOT green"),
                                             seconds=deploy_s)))
            # in the lab, a check that cannot apply is skipped (the gateway's blocklists are
            # samples): "incomplete" is said, not hidden; anything failed stops the demo
            failed = outcome.failed_hosts()
            red = {h: why for h, why in failed.items() if not why.startswith("verification incomplete")}
            for h, why in failed.items():
                if h not in red:
                    out.print("   " + escape(f"{h}: {why}"))
            if outcome.outcome not in ("ok", "changed") or red:
                raise LabError(_("deploy of {site}: {outcome}; hosts not accepted: {hosts}").format(
                    site=site.id, outcome=outcome.outcome,
                    hosts=", ".join(f"{h} ({why})" for h, why in red.items())))
            t1 = time.monotonic()
            snap = keep_deployed(lab_, site, key, db, where)
            up(lab_, site, keep_state=True)
            out.print("   " + escape(_("kept as deployed snapshot {key} ({mb} MB) for the next run "
                                     "({seconds:.0f} s)").format(key=key, mb=snap.bytes // 1_000_000,
                                                                seconds=time.monotonic() - t1)))
            facts.update(source="deploy", key=key, deploy_id=outcome.deploy_id,
                         deploy_s=round(deploy_s, 1), verified=verified,
                         snapshot_s=round(time.monotonic() - t1, 1))
    steps["site"] = facts

    with opened_store(f"sqlite:///{db}", create=True) as store:
        standin, handoff = glpi_for(site)
        try:
            with _timed(_("4. Dashboard, GLPI stand-in, poller")) as facts:
                password = secrets.token_urlsafe(12)
                create_user(store, "demo", "hotline", password, datetime.now(UTC))
                state.update(login="demo", password=password)
                if web:
                    state["web_pid"] = _start_web(where, f"sqlite:///{db}", Path(inv.root), "127.0.0.1", port)
                    state["url"] = f"http://127.0.0.1:{port}/"
                    out.print("   " + escape(_("dashboard: {url} (login demo)").format(url=state["url"])))
                out.print("   " + escape(_("GLPI stand-in: {url} (a small server that answers as GLPI's "
                                           "API does; no GLPI runs here)").format(url=standin.url)))
                state["screen_pid"], screen = _start_screen_page(lab_, site, where, f"sqlite:///{db}",
                                                                 Path(inv.root))
                state.update(screen_url=screen.url, screen_log=str(screen.log))
                out.print("   " + escape(_("hall screen {host}: its browser shows {url}, served in the "
                                           "lab's fake internet where the screen reaches the "
                                           "controller").format(host=screen.host, url=screen.url)))
                _write_state(where, state)
            steps["services"] = facts
            today = datetime.now(site.tz).date()
            day = Day(lab_, inv, site, store, f"sqlite:///{db}", repo, where / "rapports", standin,
                      handoff, demo_day(site, today), screen)
            day.sync()  # the sender runs: changes are queued for GLPI from now on
            console().print("[bold]" + escape(_("5. A day at {site}, {day} (injected clock)").format(
                site=site.name, day=f"{day_label(day.day)} {day.day.year}")) + "[/]")
            play(day, audit=audit)
            state["day"] = day.day.isoformat()
            state["day_steps"] = summary(day.steps)
            if audit:
                state["report"] = day.steps[-1].facts.get("files", {}).get("pdf")
        finally:
            standin.stop()


def _host_done(h: Any) -> None:
    """Deploy progress: one line per host when its play ends."""
    if h.done:
        console().print("   " + escape(_("{host}: done ({changed} changed, {failed} failed)").format(
            host=h.hostname, changed=h.changed, failed=h.failed + h.unreachable)))


def keep_deployed(lab: Any, site: Any, key: str, store_file: Path, where: Path) -> Any:
    """Keep the deployed site as the demo's snapshot for ``key``, with the store that recorded
    its deploy (``deployed.sqlite`` in the demo's directory): the next run restores both.  The
    site is down afterwards (``up(..., keep_state=True)`` brings it back)."""
    from fleet.lab import snapshot

    snap = snapshot.save(lab, site, key)
    where.mkdir(parents=True, exist_ok=True)
    pristine = where / "deployed.sqlite"
    _copy_db(store_file, pristine)
    _set_key(pristine, key)
    return snap


def _key_of(db: Path) -> str | None:
    try:
        return (db.with_suffix(".key")).read_text("utf-8").strip()
    except OSError:
        return None


def _set_key(db: Path, key: str) -> None:
    db.with_suffix(".key").write_text(key + "\n", encoding="utf-8")


def _take_down(where: Path, state: dict[str, Any], site_id: str, inventory_root: Path) -> None:
    from fleet.lab import down, make_lab

    _stop_web(state)
    _stop_screen_page(state)
    res = down(make_lab(inventory_root), site_id)
    state["down"] = {"seconds": round(res.seconds, 1), "namespaces": res.namespaces}
    console().print(escape(_("site {site} down in {seconds:.1f} s; dashboard stopped").format(
        site=site_id, seconds=res.seconds)))


def _print_end(state: dict[str, Any], keep: bool) -> None:
    from fleet.incidents import list_incidents

    out = console()
    out.print("[bold]" + escape(_("6. Where to look")) + "[/]")
    if keep and state.get("url"):
        out.print("   " + escape(_("dashboard: {url} — login {login}, password {password}").format(
            url=state["url"], login=state.get("login"), password=state.get("password"))))
        out.print("   " + escape(_("hall screen: {url}screen/{site}").format(url=state["url"],
                                                                             site=state["site"])))
    if keep and state.get("screen_url"):
        out.print("   " + escape(_("the screen's own page (lab): {url}").format(url=state["screen_url"])))
    with opened_store(state["db"]) as store:
        table = Table("#", _("device"), _("check"), _("status"), _("opened"), _("resolved"), box=None)
        for inc in sorted(list_incidents(store, site_id=state["site"], statuses=None), key=lambda i: i.id):
            table.add_row(str(inc.id), inc.device, inc.check, inc.status,
                          f"{inc.opened_at:%H:%M}", f"{inc.resolved_at:%H:%M}" if inc.resolved_at else "")
        out.print(table)
    out.print("   " + escape(_("incidents: fleet incidents list --site {site} --db {db}").format(
        site=state["site"], db=state["db"])))
    if state.get("report"):
        out.print("   " + escape(_("the month's audit report: {path}").format(path=state["report"])))
    out.print("   " + escape(_("the demo took {seconds:.0f} s").format(seconds=state.get("seconds", 0))))
    if keep:
        out.print("   " + escape(_("it stays up until: fleet demo down")))


@app.command("down", help=N_("Stop the demo's dashboard and take its lab site down."))
def demo_down(
    forget: Annotated[bool, typer.Option(
        "--forget", help=N_("Also remove the cached deployed snapshot (the next demo deploys again)."))
    ] = False,
) -> None:
    from fleet.lab import make_lab, snapshot

    where = demo_dir()
    state = _read_state(where)
    if not state:
        raise ConfigError(_("no demo here ({path}): nothing to take down").format(path=where / STATE))
    root = Path(state.get("inventory") or "inventory")
    if os.geteuid() != 0:
        raise LabError(_("fleet demo down needs root (the lab)"))
    from fleet.lab.lock import lab_lock

    with lab_lock():
        _take_down(where, state, str(state["site"]), root)
        if forget:
            n = snapshot.remove(make_lab(root), str(state["site"]))
            (where / "deployed.sqlite").unlink(missing_ok=True)
            console().print(escape(_("{n} deployed snapshot(s) removed").format(n=n)))
    _write_state(where, state)


__all__ = ["DEMO_SITE", "app", "demo_dir", "keep_deployed"]
