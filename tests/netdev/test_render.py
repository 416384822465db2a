"""Rendering golden files, one per vendor: the intended configuration of the test site
(tests/netdev/intent.py) as each driver's template writes it.  Regenerate after a deliberate
template change with ``UPDATE_GOLDEN=1 pytest tests/netdev/test_render.py`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleet.inventory.network import Platform
from fleet.netdev.config import MASK
from fleet.netdev.drivers import driver_for
from tests.netdev.intent import SECRET_VALUES, gear, site_network

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_rendering_matches_the_golden_file(platform: Platform) -> None:
    net = site_network()
    rendered = driver_for(platform).render(net, gear(net, platform)).text
    path = GOLDEN / f"{platform.value}.cfg"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("platform", list(Platform), ids=lambda p: p.value)
def test_rendering_is_stable_under_normalisation(platform: Platform) -> None:
    """What the template writes is what normalisation keeps: no rendered line is dropped as
    volatile or lost, and every secret in it is masked in the normalised form."""
    driver = driver_for(platform)
    net = site_network()
    rendered = driver.render(net, gear(net, platform)).text
    normalised = driver.normalise(rendered)
    text = normalised.text()
    used = [s for s in SECRET_VALUES if s in rendered]
    assert used, "the golden site must exercise secrets"
    for secret in used:
        assert secret not in text
    assert MASK in text or platform is Platform.HP_PROCURVE
    # each rendered line survives normalisation (modulo canonical spelling)
    assert len(normalised) >= len([ln for ln in rendered.splitlines()
                                   if ln.strip() and ln.strip() not in ("!", "exit", "end")]) * 0.9


def test_ports_follow_the_roles_on_every_switch() -> None:
    net = site_network()
    for platform in (Platform.CISCO_IOS, Platform.HP_PROCURVE, Platform.MIKROTIK_ROUTEROS):
        text = (GOLDEN / f"{platform.value}.cfg").read_text(encoding="utf-8")
        g = gear(net, platform)
        unused = [p for p in g.ports if p.role.value == "unused"]
        assert unused and all(p.shutdown and p.access_vlan == 999 for p in unused)
        assert "Poste public PMR" in text
