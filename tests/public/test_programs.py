"""The programs the roles install, run as real processes here (no lab): the borne's start page
(relais-startpage), the end-of-session question (relais-question) and relais-wipe's hook that
asks it — in Debian's Chromium through Playwright, with axe-core on each page."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.public.browser import axe_violations, browser, describe, require_browser, screenshot
from tests.public.conftest import REPO

STARTPAGE = REPO / "roles/kiosk_startpage/files/usr/local/sbin/relais-startpage"
QUESTION = REPO / "roles/session_question/files/usr/local/sbin/relais-question"
WIPE = REPO / "roles/session_wipe/files/usr/local/sbin/relais-wipe"
GUEST_UID = 64123  # no account of this machine
TZ = "Pacific/Noumea"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def today() -> str:
    return datetime.now(ZoneInfo(TZ)).date().isoformat()


def counts(directory: Path) -> dict[str, object]:
    path = directory / f"counts-{today()}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def default_tiles() -> list[dict[str, str]]:
    data = yaml.safe_load((REPO / "roles/kiosk/defaults/main.yml").read_text(encoding="utf-8"))
    return list(data["kiosk_procedures"])


class Target:
    """A procedure site stand-in on loopback (the tiles' URLs are pointed at it)."""

    def __init__(self) -> None:
        import http.server

        self.paths: list[str] = []
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.paths.append(self.path)
                body = f"<html lang='fr'><title>Démarche</title><h1>Procédure {self.path}</h1></html>"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_a: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def startpage(tmp_path: Path) -> Iterator[tuple[int, Path, Target]]:
    target = Target()
    tiles = default_tiles()
    for t in tiles:  # same tiles, pointed at the stand-in
        t["url"] = f"http://127.0.0.1:{target.port}/{t['id']}"
    port = free_port()
    cfg = {"listen": "127.0.0.1", "port": port, "title": "Vos démarches en ligne", "tiles": tiles,
           "icons_dir": str(REPO / "roles/kiosk_startpage/files/icons"),
           "counts_dir": str(tmp_path / "log"), "timezone": TZ, "keep_days": 400}
    conf = tmp_path / "startpage.json"
    conf.write_text(json.dumps(cfg), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(STARTPAGE), "--config", str(conf), "serve"])
    try:
        wait_port(port)
        yield port, tmp_path / "log", target
    finally:
        proc.kill()
        proc.wait()
        target.server.shutdown()


def test_start_page_tile_opens_its_procedure_and_counts_the_day(
        startpage: tuple[int, Path, Target]) -> None:
    require_browser()
    port, log, target = startpage
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 1024})
        page.goto(f"http://127.0.0.1:{port}/")
        assert page.title() == "Vos démarches en ligne"
        tiles = page.locator("a.tile")
        assert tiles.count() == len(default_tiles())
        assert "Refaire ma carte grise" in tiles.first.inner_text()
        # by keyboard: the first Tab reaches the first tile, Enter opens it
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "/go/carte-grise"
        screenshot(page, "startpage-focus")
        page.keyboard.press("Enter")
        page.wait_for_url(f"http://127.0.0.1:{target.port}/carte-grise")
        assert [p for p in target.paths if p != "/favicon.ico"] == ["/carte-grise"]
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text("Ma CAF").click()  # by touch/mouse
        page.wait_for_url(f"http://127.0.0.1:{target.port}/caf")
    day = counts(log)
    assert day == {"day": today(), "tiles": {"carte-grise": 1, "caf": 1}}
    files = [p.name for p in log.iterdir() if not p.name.startswith(".")]
    assert set(files) == {"counts.lock", f"counts-{today()}.json"}  # nothing else kept


def test_start_page_refuses_unknown_tiles_and_logs_nobody(startpage: tuple[int, Path, Target]) -> None:
    import httpx

    port, log, _target = startpage
    assert httpx.get(f"http://127.0.0.1:{port}/go/unknown").status_code == 404
    assert httpx.post(f"http://127.0.0.1:{port}/go/caf").status_code == 501
    resp = httpx.get(f"http://127.0.0.1:{port}/go/caf")
    assert resp.status_code == 303 and resp.headers["location"].endswith("/caf")
    assert counts(log)["tiles"] == {"caf": 1}


def test_start_page_accessibility_and_arm_length_reading(startpage: tuple[int, Path, Target]) -> None:
    require_browser()
    port, _log, _target = startpage
    with browser() as b:
        for width, height, name in ((1280, 1024, "borne-1280"), (1920, 1080, "borne-1920"),
                                    (768, 1024, "borne-portrait")):
            page = b.new_page(viewport={"width": width, "height": height})
            page.goto(f"http://127.0.0.1:{port}/")
            bad = axe_violations(page)
            assert not bad, describe(bad)
            screenshot(page, f"startpage-{name}")
            sizes = page.evaluate("""() => [...document.querySelectorAll('.title, .help, h1')]
                .map(e => parseFloat(getComputedStyle(e).fontSize))""")
            assert min(sizes) >= 22, sizes  # read at arm's length
            overflow = page.evaluate("document.documentElement.scrollWidth > innerWidth")
            assert not overflow
            page.close()


# --- the question -----------------------------------------------------------------------------
def question_config(tmp_path: Path, timeout: int = 20) -> tuple[Path, int]:
    port = free_port()
    cfg = {"user": "nobody", "timeout": timeout, "port": port,
           "triggers": ["logout", "idle", "max-session"], "browser": [],
           "counts_dir": str(tmp_path / "log"), "timezone": TZ, "keep_days": 400}
    conf = tmp_path / "question.json"
    conf.write_text(json.dumps(cfg), encoding="utf-8")
    return conf, port


def test_question_records_the_answer_clicked(tmp_path: Path) -> None:
    require_browser()
    conf, port = question_config(tmp_path)
    proc = subprocess.Popen([sys.executable, str(QUESTION), "--config", str(conf), "ask",
                             "--trigger", "idle", "--display", ":99"],
                            stdout=subprocess.PIPE, text=True)
    try:
        wait_port(port)
        with browser() as b:
            page = b.new_page(viewport={"width": 1280, "height": 1024})
            page.goto(f"http://127.0.0.1:{port}/question")
            assert page.locator("h1").inner_text() == "Avez-vous pu faire ce que vous vouliez ?"
            names = page.locator("button").all_inner_texts()
            assert names == ["Oui", "En partie", "Non", "Passer"]
            bad = axe_violations(page)
            assert not bad, describe(bad)
            screenshot(page, "question")
            page.get_by_role("button", name="En partie").click()
            page.wait_for_selector("text=Merci")
            screenshot(page, "question-thanks")
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "relais-question: en_partie" in out
    assert counts(tmp_path / "log") == {"day": today(), "answers": {"en_partie": 1}}


def test_question_without_answer_is_skipped_and_counted(tmp_path: Path) -> None:
    conf, _port = question_config(tmp_path, timeout=1)
    done = subprocess.run([sys.executable, str(QUESTION), "--config", str(conf), "ask",
                           "--trigger", "max-session", "--display", ":99"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "sans_reponse" in done.stdout
    assert counts(tmp_path / "log")["answers"] == {"sans_reponse": 1}


def test_question_is_not_asked_for_nightly_wipes_nor_without_a_screen(tmp_path: Path) -> None:
    conf, _port = question_config(tmp_path, timeout=1)
    nightly = subprocess.run([sys.executable, str(QUESTION), "--config", str(conf), "ask",
                              "--trigger", "nightly", "--display", ":99"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert nightly.returncode == 0 and "not asked (trigger)" in nightly.stdout
    blind = subprocess.run([sys.executable, str(QUESTION), "--config", str(conf), "ask",
                            "--trigger", "idle"], capture_output=True, text=True, timeout=30, check=False)
    # the configured user (nobody) runs no X session here
    assert blind.returncode == 0 and "not asked (no display)" in blind.stdout
    assert not (tmp_path / "log").exists()


def test_a_forged_answer_is_refused(tmp_path: Path) -> None:
    import httpx

    conf, port = question_config(tmp_path, timeout=3)
    proc = subprocess.Popen([sys.executable, str(QUESTION), "--config", str(conf), "ask",
                             "--trigger", "idle", "--display", ":99"], stdout=subprocess.PIPE, text=True)
    try:
        wait_port(port)
        forged = httpx.post(f"http://127.0.0.1:{port}/answer", data={"answer": "oui", "token": "x"})
        assert forged.status_code == 400
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "sans_reponse" in out  # the forged one did not count


# --- relais-wipe's hook ------------------------------------------------------------------------
def wipe_tree(tmp_path: Path, question: list[str], question_timeout: float) -> Path:
    root = tmp_path / "root"
    # the guest's own uid, not the test's: the wipe removes every file of the guest's uid
    # outside the fresh home (issue 9), which for root would be the whole tree
    cfg = {"user": "guest", "uid": GUEST_UID, "gid": GUEST_UID, "home": "/home/guest",
           "skeleton": "/etc/relais/guest-skel", "record": "/var/log/relais/wipe.jsonl",
           "state_dir": "/run/relais-wipe", "items": ["downloads", "home"],
           "question": question, "question_timeout": question_timeout}
    (root / "etc/relais").mkdir(parents=True)
    (root / "etc/relais/session-wipe.json").write_text(json.dumps(cfg))
    (root / "home/guest/Downloads").mkdir(parents=True)
    (root / "home/guest/Downloads/avis-imposition.pdf").write_text("x")
    if os.geteuid() == 0:
        for p in (root / "home/guest", root / "home/guest/Downloads",
                  root / "home/guest/Downloads/avis-imposition.pdf"):
            os.chown(p, GUEST_UID, GUEST_UID)
    return root


def run_wipe(root: Path, trigger: str) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(WIPE), "--root", str(root), "run", "--trigger", trigger],
                          capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    records = (root / "var/log/relais/wipe.jsonl").read_text().splitlines()
    return json.loads(records[-1]), elapsed


def test_the_wipe_asks_first_then_wipes_when_nobody_answers(tmp_path: Path) -> None:
    conf, _port = question_config(tmp_path, timeout=1)
    asked = [sys.executable, str(QUESTION), "--config", str(conf), "ask", "--display", ":99"]
    root = wipe_tree(tmp_path, asked, question_timeout=30)
    record, _ = run_wipe(root, "idle")
    assert record["trigger"] == "idle" and record["outcome"] == "ok"
    assert not (root / "home/guest/Downloads/avis-imposition.pdf").exists()
    assert counts(tmp_path / "log")["answers"] == {"sans_reponse": 1}  # asked, then skipped


def test_a_hanging_or_broken_question_never_blocks_the_wipe(tmp_path: Path) -> None:
    hanging = wipe_tree(tmp_path / "a", ["sleep", "600"], question_timeout=2)
    record, elapsed = run_wipe(hanging, "logout")
    assert record["outcome"] == "ok" and elapsed < 60  # bounded by question_timeout
    broken = wipe_tree(tmp_path / "b", ["/nonexistent/relais-question", "ask"], question_timeout=2)
    assert run_wipe(broken, "logout")[0]["outcome"] == "ok"
    failing = wipe_tree(tmp_path / "c", ["false"], question_timeout=2)
    assert run_wipe(failing, "logout")[0]["outcome"] == "ok"
