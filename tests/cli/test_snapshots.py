"""The main commands' output, at 80 and 200 columns, in French and English, on a store filled by
a real poll of recordings (tests/cli/conftest.py): compared with tests/cli/snapshots/.

A change of output shows as a diff here; when it is intended, regenerate with
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/cli/test_snapshots.py`` and read the diff of the
snapshot files before committing them.

Besides the comparison, each rendering is checked for the rules themselves: at 80 columns no
line is wider than 80 except one made of a single identifier, and every site id, hostname and
incident number of the store appears whole.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.cli.main import main
from tests.cli.conftest import Polled

SNAPSHOTS = Path(__file__).with_name("snapshots")
NOW = "2026-11-23T10:02+01:00"  # two minutes after the poll: current data
LATER = "2026-11-25T10:00+01:00"  # two days after: stale
IDS = ("st-germain-calberte", "noumea-riviere-salee", "st-germain-calberte-prn1",
       "st-germain-calberte-prn2", "st-germain-calberte-ups1", "st-germain-calberte-pc1",
       "noumea-riviere-salee-prn1")

COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "status": ["status", "--clock", NOW],
    "status-site": ["status", "st-germain-calberte", "--clock", NOW],
    "status-search": ["status", "noumea", "--clock", NOW],
    "status-device": ["status", "st-germain-calberte-prn2", "--clock", NOW],
    "status-stale": ["status", "--clock", LATER],
    "incidents-list": ["incidents", "list", "--clock", NOW],
    "incidents-show": ["incidents", "show", "2"],
    "maintenance-list": ["maintenance", "list", "--all", "--clock", NOW],
}
VARIANTS = [(lang, width) for lang in ("fr", "en") for width in (80, 200)]


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's clock in Paris (instants about no single site are shown on it)."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def render(polled: Polled, args: list[str], lang: str, width: int,
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    for key, value in polled.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    code = main(["--lang", lang, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.err == ""
    text = out.out.replace(str(polled.root), "<tmp>")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.usefixtures("paris")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_matches_the_snapshot(
    name: str, polled: Polled, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sections = []
    for lang, width in VARIANTS:
        text = render(polled, COMMANDS[name], lang, width, monkeypatch, capsys)
        if width == 80:
            too_wide = [line for line in text.splitlines()
                        if len(line) > 80 and not re.fullmatch(r"\s*\S+", line)]
            assert too_wide == [], f"{name} {lang}: lines wider than 80 columns"
        if name != "help":
            for ident in IDS:
                # an identifier shown is shown whole (never cut by a line end or an ellipsis)
                stem = ident[: len(ident) - 2]
                for line in text.splitlines():
                    if line.rstrip().endswith(stem) or "…" in line:
                        pytest.fail(f"{name} {lang} {width}: {ident!r} cut in {line!r}")
        sections.append(f"===== fleet --lang {lang} {' '.join(COMMANDS[name])}  (COLUMNS={width})\n"
                        + text)
    got = "\n".join(sections)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.usefixtures("paris")
def test_the_hotline_sees_what_the_store_holds(
    polled: Polled, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not only a look: the facts every rendering must carry."""
    site = render(polled, COMMANDS["status-site"], "fr", 80, monkeypatch, capsys)
    for fact in ("127.0.0.11", "127.0.0.14", "+33 4 66 00 99 00", "CEV-2026-017",
                 "Secrétariat de mairie", "+33 4 66 45 90 01", "hors ligne", "il y a 1 min"):
        assert fact in site
    noumea = render(polled, COMMANDS["status-search"], "en", 200, monkeypatch, capsys)
    assert "noumea-riviere-salee" in noumea and "UTC+11" in noumea and "opens Tue 07:30" in noumea
    stale = render(polled, COMMANDS["status-stale"], "en", 200, monkeypatch, capsys)
    assert "STALE" in stale and stale.count("stale") >= 2
    shown = render(polled, COMMANDS["incidents-show"], "fr", 80, monkeypatch, capsys)
    assert "CEV-2026-017" in shown and "+33 4 66 00 99 00" in shown
