"""site_power: parsing with located errors, the off periods, and the timer's weekly calendar
agreeing with them (one rule, two faces)."""

from __future__ import annotations

import importlib.util
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.errors import InventoryError, Problem
from fleet.inventory import load_inventory
from fleet.inventory.models import OpeningHours, Site
from fleet.inventory.power import (
    SitePower,
    calendar_for_host,
    off_windows,
    parse_site_power,
    shutdown_calendar,
)
from fleet.inventory.validate import validate_with_lines
from fleet.inventory.variables import WeekVars
from fleet.inventory.yamlsrc import load_yaml_text
from tests.conftest import REPO

WEEK = {"mon": ["09:00-12:00", "13:30-17:00"], "tue": ["09:00-12:00", "13:30-17:00"],
        "wed": ["09:00-12:00"], "thu": [], "fri": ["20:00-01:00+1"], "sat": ["09:00-12:00"],
        "sun": []}


def _hours(week: dict[str, list[str]], tz: str = "Europe/Paris") -> OpeningHours:
    parsed = validate_with_lines(WeekVars, week, "x.yml", where="site_opening_hours.")
    return OpeningHours(timezone=tz, week=parsed.week())


def test_parse_reports_file_line_field() -> None:
    problems: list[Problem] = []
    assert parse_site_power(None, "s.yml", 3, "site_power", problems) is None and not problems
    bad = {"shutdown_after": -5, "wake_befor": 10, "kinds": {"gateway": True}}
    assert parse_site_power(bad, "s.yml", 3, "site_power", problems) is None
    text = "\n".join(str(p) for p in problems)
    assert "site_power.wake_befor: unknown key 'wake_befor' (did you mean 'wake_before'?)" in text
    assert "site_power.kinds.gateway: only public_pc, borne can be powered by schedule" in text
    problems.clear()
    assert parse_site_power({"shutdown_after": -5}, "s.yml", 3, "site_power", problems) is None
    assert problems and problems[0].field == "site_power.shutdown_after" and "s.yml:3" in str(problems[0])
    ok = parse_site_power({"shutdown_after": 15, "kinds": {"borne": False}}, "s.yml", 3, "site_power", [])
    assert ok is not None and ok.applies_to("public_pc") and not ok.applies_to("borne")
    assert not ok.applies_to("gateway")


POWER_YAML = """\
site_power:
  shutdown_after: 30
  kinds:
    public_pc: true
    gateway: true
  watts:
    public_pc: 40
    borne: lots
"""


def test_parse_points_at_the_line_of_a_nested_value() -> None:
    """An error below ``kinds`` or ``watts`` names the line of its own key, not the line of
    ``watts:`` (the one mapping of pydantic errors to lines: fleet.inventory.validate)."""
    found: list[Problem] = []
    raw = load_yaml_text(POWER_YAML, "s.yml", found)["site_power"]
    lines = POWER_YAML.splitlines()
    good = {k: v for k, v in raw.items() if k not in ("kinds", "watts")}
    assert parse_site_power(good, "s.yml", 1, "site_power", found) is not None and not found
    assert parse_site_power(raw, "s.yml", 1, "site_power", found) is None
    shown = sorted(str(p) for p in found)
    assert shown == sorted([
        f"s.yml:{lines.index('    gateway: true') + 1}: site_power.kinds.gateway: "
        "only public_pc, borne can be powered by schedule",
        f"s.yml:{lines.index('    borne: lots') + 1}: site_power.watts.borne: "
        "must be a number, not the text 'lots'",
    ]), shown


def test_the_loader_reads_site_power_and_refuses_a_bad_one(tmp_path: Path) -> None:
    inv = load_inventory(REPO / "inventory")
    site = inv.site("florac-fs")
    assert site.power is not None and site.power.shutdown_after == 30
    import shutil

    root = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", root)
    shutil.copy(REPO / "vault-password", tmp_path / "vault-password")
    f = root / "sites" / "florac-fs.yml"
    f.write_text(f.read_text("utf-8").replace("shutdown_after: 30", "shutdown_after: soon"), "utf-8")
    with pytest.raises(InventoryError) as err:
        load_inventory(root)
    shown = str(err.value)
    assert "florac-fs.yml" in shown and "site_power.shutdown_after" in shown, shown
    line = f.read_text("utf-8").splitlines().index("          shutdown_after: soon") + 1
    assert f"florac-fs.yml:{line}: " in shown, shown
    assert "site_power.shutdown_after: must be a whole number, not the text 'soon'" in shown


def test_calendar_of_the_week() -> None:
    power = SitePower(shutdown_after=30, wake_before=20, min_off=120)
    cal = shutdown_calendar(_hours(WEEK), power)
    assert cal == [
        "Mon *-*-* 17:30:00 Europe/Paris",  # lunch break (90 min) keeps the PCs on
        "Tue *-*-* 17:30:00 Europe/Paris",
        "Wed *-*-* 12:30:00 Europe/Paris",
        "Sat *-*-* 01:30:00 Europe/Paris",  # Friday 20:00-01:00+1 closes Saturday 01:00
        "Sat *-*-* 12:30:00 Europe/Paris",
    ]
    short = SitePower(shutdown_after=0, wake_before=0, min_off=60)
    assert "Mon *-*-* 12:00:00 Europe/Paris" in shutdown_calendar(_hours(WEEK), short)
    # touching ranges are one opening; never closed: no timer; never open: none either
    touching = {"mon": ["20:00-24:00"], "tue": ["00:00-02:00"]}
    assert shutdown_calendar(_hours(touching), power) == ["Tue *-*-* 02:30:00 Europe/Paris"]
    always = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert shutdown_calendar(_hours(always), power) == []
    assert shutdown_calendar(_hours({}), power) == []


@pytest.mark.parametrize("site_id", ["florac-fs", "mende-pref", "noumea-ps", "rennes-maurepas"])
def test_timer_calendar_agrees_with_the_off_periods(site_id: str) -> None:
    """Every off period of eight weeks starts at an instant of the weekly calendar (wall time in
    the site's zone), and every calendar entry is used: the timer and `fleet power wake` can
    never disagree.  (Exceptional closures are left out: they only make gaps longer.)"""
    base = load_inventory(REPO / "inventory").site(site_id)
    site: Site = base.model_copy(update={"hours": base.hours.model_copy(update={"closures": ()})})
    for power in (SitePower(), SitePower(shutdown_after=0, wake_before=0, min_off=30),
                  SitePower(shutdown_after=45, wake_before=60, min_off=600)):
        cal = set(shutdown_calendar(site.hours, power))
        start = datetime(2026, 3, 2, tzinfo=UTC)  # across the spring DST change in Europe
        windows = off_windows(site, power, start, start + timedelta(weeks=8))
        seen = set()
        for w in windows:
            local = w.off_at.astimezone(site.tz)
            entry = f"{local:%a} *-*-* {local:%H:%M}:00 {site.timezone}"
            assert entry in cal, (entry, sorted(cal))
            seen.add(entry)
            assert w.wake_at - w.off_at >= timedelta(minutes=power.min_off)
        assert seen == cal, sorted(cal - seen)


def test_systemd_accepts_the_calendar() -> None:
    site = load_inventory(REPO / "inventory").site("florac-fs")
    assert site.power is not None
    for entry in shutdown_calendar(site.hours, site.power):
        proc = subprocess.run(["systemd-analyze", "calendar", entry], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "Next elapse" in proc.stdout


def test_role_filter_is_the_engine() -> None:
    """The power_schedule role's filter returns the engine's answer from raw Ansible values."""
    path = REPO / "roles" / "power_schedule" / "filter_plugins" / "relais_power.py"
    spec = importlib.util.spec_from_file_location("relais_power_filter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw = {"shutdown_after": 30, "wake_before": 20, "kinds": {"public_pc": True, "borne": False}}
    got = module.FilterModule().filters()["relais_power_calendar"](WEEK, "Europe/Paris", raw,
                                                                   ["public_pc", "site_x"])
    assert got == shutdown_calendar(_hours(WEEK), SitePower(shutdown_after=30, wake_before=20))
    assert module.relais_power_calendar(WEEK, "Europe/Paris", raw, ["borne"]) == []
    assert module.relais_power_calendar(WEEK, "Europe/Paris", None, ["public_pc"]) == []
    with pytest.raises(module.AnsibleFilterError, match="wake_befor"):
        module.relais_power_calendar(WEEK, "Europe/Paris", {"wake_befor": 1}, ["public_pc"])
    assert calendar_for_host(WEEK, "Europe/Paris", raw, ["public_pc"]) == got
