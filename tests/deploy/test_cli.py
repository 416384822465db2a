"""`fleet deploy` / `fleet wipe` command line: errors are one clear line, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("FLEET_LAB_ROOT", str(tmp_path / "no-lab"))
    monkeypatch.setenv("FLEET_DB_URL", f"sqlite:///{tmp_path / 'fleet.sqlite'}")


def test_unknown_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "no site 'nowhere'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_limit_matching_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "florac-fs", "--limit", "florac-fs-prn1"]) == 2
    assert ("no public PC, borne or gateway matching --limit 'florac-fs-prn1'"
            in capsys.readouterr().err)


def test_lab_not_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "florac-fs", "--lab", "--no-record"]) == 2
    assert "the lab is not up for florac-fs: run 'fleet lab up florac-fs'" in capsys.readouterr().err


def test_wipe_refuses_a_printer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wipe", "florac-fs-prn1"]) == 2
    err = capsys.readouterr().err
    assert "florac-fs.yml" in err and "is a printer" in err


def test_demo_vault_refused_outside_the_lab(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9.9: the demo vault's password is public; only the lab may be deployed with it."""
    assert main(["deploy", "florac-fs", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert "public demo password" in err and "--lab" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    # --lab gets past this check (and stops at the lab not being up)
    assert main(["deploy", "florac-fs", "--lab", "--no-record"]) == 2
    assert "the lab is not up" in capsys.readouterr().err
