"""Inventory for issue 17: the ``screen`` kind, ``device_profile: visio``, ``site_agenda``,
``site_visio_origins`` and ``kiosk_procedures`` — loaded into typed fields, bad values
refused at their file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InventoryError
from fleet.inventory import load_inventory
from fleet.inventory.models import DeviceKind
from fleet.inventory.variables import PROCEDURE_ICONS
from tests.public.conftest import NOUMEA, REPO, Edit

BORNE2 = "        noumea-ps-borne2:\n          ansible_host: 10.98.1.22\n"


def _line(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def _problems(inv_dir: Path) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(inv_dir)
    return [str(p) for p in info.value.problems]


def test_the_demo_site_has_a_screen_a_visio_borne_and_an_agenda() -> None:
    site = load_inventory(REPO / "inventory").site("noumea-ps")
    screen = next(d for d in site.devices if d.kind is DeviceKind.SCREEN)
    assert screen.hostname == "noumea-ps-screen1" and screen.kind.is_host
    profiles = {d.hostname: d.profile for d in site.devices_of(DeviceKind.BORNE)}
    assert profiles == {"noumea-ps-borne1": "standard", "noumea-ps-borne2": "visio"}
    assert site.visio_origins == ("https://visio.caf.nc",)
    assert site.agenda == "group_vars/site_noumea_ps/semainier.ics"
    assert (REPO / "inventory" / site.agenda).is_file()


def test_a_profile_on_anything_but_a_borne_is_refused_at_its_line(inv_dir: Path, edit: Edit) -> None:
    edit(NOUMEA, "          ansible_host: 10.98.1.51\n",
         "          ansible_host: 10.98.1.51\n          device_profile: visio\n")
    text = (inv_dir / NOUMEA).read_text(encoding="utf-8").splitlines()
    line = max(i for i, ln in enumerate(text, start=1) if "device_profile: visio" in ln)
    assert "noumea-ps-screen1" in text[line - 3]
    assert _problems(inv_dir) == [
        f"inventory/{NOUMEA}:{line}: site_noumea_ps.hosts.noumea-ps-screen1.device_profile: only a "
        "borne has a profile (standard or visio), not a screen"]


def test_a_visio_borne_without_origins_is_refused(inv_dir: Path, edit: Edit) -> None:
    edit(NOUMEA, '        site_visio_origins: ["https://visio.caf.nc"]\n', "")
    problems = _problems(inv_dir)
    line = _line(inv_dir / NOUMEA, "device_profile: visio")
    assert any(p.startswith(f"inventory/{NOUMEA}:{line}:") and "site_visio_origins" in p
               for p in problems), problems


@pytest.mark.parametrize("value, message", [
    ('["http://visio.caf.nc"]', "https, no path"),
    ('["https://visio.caf.nc/rdv"]', "https, no path"),
    ("[42]", "must be a text"),
])
def test_a_visio_origin_must_be_an_https_origin(inv_dir: Path, edit: Edit, value: str,
                                                message: str) -> None:
    edit(NOUMEA, '["https://visio.caf.nc"]', value)
    problems = _problems(inv_dir)
    line = _line(inv_dir / NOUMEA, "site_visio_origins")
    assert any(f":{line}:" in p and message in p for p in problems), problems


@pytest.mark.parametrize("value, message", [
    ("group_vars/site_noumea_ps/absent.ics", "agenda file not found: group_vars/site_noumea_ps/absent.ics"),
    ("/etc/passwd", "relative to the inventory directory"),
    ("../secrets.ics", "relative to the inventory directory"),
    ("ftp://agenda.example.org/a.ics", "https://"),
    ("semainier.txt", ".ics file"),
])
def test_a_bad_agenda_is_refused_at_its_line(inv_dir: Path, edit: Edit, value: str, message: str) -> None:
    edit(NOUMEA, "site_agenda: group_vars/site_noumea_ps/semainier.ics", f"site_agenda: {value}")
    problems = _problems(inv_dir)
    line = _line(inv_dir / NOUMEA, "site_agenda:")
    assert any(p.startswith(f"inventory/{NOUMEA}:{line}: ") and "site_agenda" in p and message in p
               for p in problems), problems


def test_an_agenda_feed_address_loads(inv_dir: Path, edit: Edit) -> None:
    edit(NOUMEA, "site_agenda: group_vars/site_noumea_ps/semainier.ics",
         "site_agenda: https://calendar.example.org/semainier.ics")
    assert load_inventory(inv_dir).site("noumea-ps").agenda == "https://calendar.example.org/semainier.ics"


TILES = """        kiosk_procedures:
          - {id: caf, title: "Ma CAF", help: "Mes allocations", url: "https://www.caf.nc/", icon: famille}
          - {id: cafat, title: "Ma CAFAT", url: "https://www.cafat.nc/", icon: sante}
"""


def test_kiosk_procedures_per_site_load(inv_dir: Path, edit: Edit) -> None:
    edit(NOUMEA, "        site_pmi: false\n", "        site_pmi: false\n" + TILES)
    borne = load_inventory(inv_dir).device("noumea-ps-borne1")
    assert [t["id"] for t in borne.vars["kiosk_procedures"]] == ["caf", "cafat"]


@pytest.mark.parametrize("bad, message", [
    ('{id: caf, title: "Ma CAF", url: "www.caf.nc", icon: famille}', "web address"),
    ('{id: Caf!, title: "Ma CAF", url: "https://www.caf.nc/"}', "tile id"),
    ('{id: caf, title: "Ma CAF", url: "https://www.caf.nc/", icon: fusee}', "is not one of: voiture"),
    ('{id: caf, title: "' + "Très long titre " * 4 + '", url: "https://www.caf.nc/"}', "too long"),
    ('{id: cafat, title: "Ma CAF", url: "https://www.caf.nc/"}', "duplicate tile id 'cafat'"),
    ('{id: caf, titel: "Ma CAF", url: "https://www.caf.nc/"}', "did you mean 'title'"),
])
def test_a_bad_tile_is_refused_at_its_line(inv_dir: Path, edit: Edit, bad: str, message: str) -> None:
    first = '{id: caf, title: "Ma CAF", help: "Mes allocations", url: "https://www.caf.nc/", icon: famille}'
    tiles = TILES.replace(first, bad)
    edit(NOUMEA, "        site_pmi: false\n", "        site_pmi: false\n" + tiles)
    problems = _problems(inv_dir)
    needle = bad[:12] if "cafat" not in bad else 'id: cafat, title: "Ma CAFAT'
    line = _line(inv_dir / NOUMEA, needle)
    assert any(p.startswith(f"inventory/{NOUMEA}:") and "kiosk_procedures" in p and message in p
               for p in problems), problems
    assert any(f":{line}:" in p for p in problems), (line, problems)


def test_every_tile_icon_has_its_picture() -> None:
    icons = REPO / "roles" / "kiosk_startpage" / "files" / "icons"
    assert {p.stem for p in icons.glob("*.svg")} == set(PROCEDURE_ICONS)


def test_the_default_tiles_are_valid_and_allowed_by_the_kiosk() -> None:
    import yaml
    from pydantic import TypeAdapter

    from fleet.inventory.variables import ENGINE_TYPED

    defaults = yaml.safe_load((REPO / "roles/kiosk/defaults/main.yml").read_text(encoding="utf-8"))
    tiles = TypeAdapter(ENGINE_TYPED["kiosk_procedures"]).validate_python(defaults["kiosk_procedures"])
    allowed = defaults["kiosk_default_allowlist"]
    for tile in tiles:
        host = tile.url.split("/")[2]
        assert any(host == a or host.endswith("." + a) for a in allowed), (tile.id, host)
