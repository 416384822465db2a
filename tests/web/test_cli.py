"""`fleet users ...` and `fleet web`, run for real as the administrator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fleet.errors import LoginRefused
from fleet.store import open_store
from fleet.store.users import authenticate
from tests.incidents.samples import REPO
from tests.web.world import NOW

FLEET = [sys.executable, "-m", "fleet.cli.main"]


def _fleet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLEET, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_users_add_list_passwd_disable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    r = _fleet("users", "add", "alice", "--role", "hotline", "--db", db, stdin="first password 1\n")
    assert r.returncode == 0, r.stderr
    assert "first password 1" not in r.stdout + r.stderr
    listed = json.loads(_fleet("users", "list", "--json", "--db", db).stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [("alice", "hotline", False)]
    store = open_store(db)
    try:
        assert authenticate(store, "alice", "first password 1", address="t", at=NOW).role == "hotline"
        assert _fleet("users", "passwd", "alice", "--db", db, stdin="second password 2\n").returncode == 0
        try:
            authenticate(store, "alice", "first password 1", address="t", at=NOW)
            raise AssertionError("the old password still works")
        except LoginRefused:
            pass
        assert authenticate(store, "alice", "second password 2", address="t", at=NOW).name == "alice"
        assert _fleet("users", "disable", "alice", "--db", db).returncode == 0
        try:
            authenticate(store, "alice", "second password 2", address="t", at=NOW)
            raise AssertionError("a disabled account logs in")
        except LoginRefused:
            pass
    finally:
        store.dispose()


def test_users_bad_input_is_one_line_never_a_traceback(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    cases = [
        (("users", "add", "bob", "--role", "boss"), "a long enough password\n", "role 'boss': unknown"),
        (("users", "add", "bob", "--role", "hotline"), "short\n", "at least 10 characters"),
        (("users", "add", "bob", "--role", "hotline"), "", "nothing on standard input"),
        (("users", "add", "b b", "--role", "hotline"), "a long enough password\n", "user name 'b b'"),
        (("users", "passwd", "nobody"), "a long enough password\n", "user 'nobody' does not exist"),
        (("users", "disable", "nobody"), None, "user 'nobody' does not exist"),
    ]
    for args, stdin, message in cases:
        r = _fleet(*args, "--db", db, stdin=stdin)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert (
        _fleet(
            "users", "add", "bob", "--role", "hotline", "--db", db, stdin="a long enough password\n"
        ).returncode
        == 0
    )
    r = _fleet("users", "add", "bob", "--role", "admin", "--db", db, stdin="a long enough password\n")
    assert r.returncode == 2 and "already exists" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fleet_web_serves_the_dashboard(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    assert (
        _fleet(
            "users", "add", "admin", "--role", "admin", "--db", db, stdin="a long enough password\n"
        ).returncode
        == 0
    )
    port = _free_port()
    env = {**os.environ, "FLEET_WEB_TRUSTED_PROXIES": "127.0.0.1"}
    proc = subprocess.Popen(
        [*FLEET, "web", "--port", str(port), "--db", db, "-i", str(REPO / "inventory")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "fleet web did not answer"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 303
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert "relais_sites" in metrics and "relais_open_incidents" in metrics
        # the configured proxy is trusted: HTTPS from it gives a Secure cookie
        login = httpx.get(f"http://127.0.0.1:{port}/login", headers={"x-forwarded-proto": "https"}, timeout=5)
        assert "Secure" in login.headers["set-cookie"]
        assert "server" not in login.headers
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_fleet_web_lab_sends_the_remote_actions_to_the_lab(tmp_path: Path) -> None:
    """`fleet web --lab`: the device page says its actions reach the lab copy of the site
    (without --lab it does not: tests/web/test_remote_actions.py)."""
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    added = _fleet("users", "add", "hl", "--role", "hotline", "--db", db, stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    port = _free_port()
    argv = [*FLEET, "web", "--lab", "--port", str(port), "--db", db, "-i", str(REPO / "inventory")]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "fleet web did not answer"
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/login").text
            token = form[form.index('name="csrf" value="') + 19 :].split('"', 1)[0]
            logged = client.post("/login", data={"name": "hl", "password": "a long enough password",
                                                 "csrf": token, "next": "/"})  # fmt: skip
            assert logged.status_code == 303, logged.text[:300]
            page = client.get("/devices/florac-fs-borne1")
        assert page.status_code == 200
        assert 'id="act-restart-kiosk"' in page.text and "Mode laboratoire" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_fleet_web_refuses_a_bad_proxy_setting(tmp_path: Path) -> None:
    r = _fleet("web", "--db", f"sqlite:///{tmp_path}/x.sqlite", "--trusted-proxy", "not-an-address")
    assert r.returncode == 2 and "trusted proxy 'not-an-address'" in r.stderr and "Traceback" not in r.stderr
