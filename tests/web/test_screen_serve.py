"""The hall screens' page served alone (``python -m fleet.web.screen_serve``), as ``fleet demo``
and the public lab tests run it in the lab's fake internet: a real process, a real socket, its
clock read from a file the demo's day moves on."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.store import open_store

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    db = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
    open_store(db, create=True).dispose()
    port, clock, log = _free_port(), tmp_path / "clock", tmp_path / "access.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet.web.screen_serve", "--host", "127.0.0.1", "--port", str(port),
         "--db", db, "--clock-file", str(clock), "--cache", str(tmp_path / "agenda"), "--log", str(log),
         "--inventory", str(REPO / "inventory")], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}/screen/florac-fs", clock, log
    finally:
        proc.terminate()
        proc.wait(10)


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode("utf-8")


def test_the_page_follows_the_clock_file_and_every_request_is_logged(
        served: tuple[str, Path, Path]) -> None:
    url, clock, log = served
    clock.write_text("2026-11-27T10:35:00+01:00\n", encoding="utf-8")  # a Friday, open
    page = _page(url + "?ecran=1")
    assert "vendredi 27 novembre, 10 h 35" in page and "Ouvert jusqu" in page
    assert '<meta http-equiv="refresh"' in page
    clock.write_text("2026-11-28T10:35:00+01:00\n", encoding="utf-8")  # the day moves on: Saturday
    page = _page(url)
    assert "samedi 28 novembre, 10 h 35" in page and "Fermé" in page
    assert '<meta http-equiv="refresh"' not in page
    clock.write_text("not a date\n", encoding="utf-8")  # unreadable: the real clock, no error
    assert "Horaires d'ouverture" in _page(url)
    lines = [json.loads(x) for x in log.read_text("utf-8").splitlines()]
    assert [(r["path"], r["query"], r["status"]) for r in lines] == [
        ("/screen/florac-fs", "ecran=1", 200), ("/screen/florac-fs", "", 200),
        ("/screen/florac-fs", "", 200)]
    assert all(r["client"] == "127.0.0.1" for r in lines)

