"""The ``--limit`` a site's deploy hands to Ansible, evaluated by Ansible's own inventory manager
on the repository's inventory (the public lab deploy of two bornes and a screen once deployed
the first borne alone: "site:&a:b:c" is (site | b | c) & a for Ansible)."""

from __future__ import annotations

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from fleet.deploy.service import ansible_limit
from tests.conftest import REPO


@pytest.fixture(scope="module")
def manager() -> InventoryManager:
    return InventoryManager(loader=DataLoader(), sources=[str(REPO / "inventory" / "sites")])


def _hosts(manager: InventoryManager, limit: str) -> set[str]:
    manager.clear_pattern_cache()
    manager.subset(limit)
    try:
        return {h.name for h in manager.get_hosts("all")}
    finally:
        manager.subset(None)


@pytest.mark.parametrize(("limit", "expected"), [
    (None, {"noumea-ps-borne1", "noumea-ps-borne2", "noumea-ps-screen1"}),
    ("noumea-ps-borne1:noumea-ps-borne2:noumea-ps-screen1",
     {"noumea-ps-borne1", "noumea-ps-borne2", "noumea-ps-screen1"}),
    ("noumea-ps-borne1,noumea-ps-screen1", {"noumea-ps-borne1", "noumea-ps-screen1"}),
    ("borne", {"noumea-ps-borne1", "noumea-ps-borne2"}),  # a kind's group, within the site
    ("noumea-ps-*:!noumea-ps-borne2", {"noumea-ps-borne1", "noumea-ps-screen1"}),
    ("florac-fs-pc1", set()),  # another site's host is not deployed by this site's run
])
def test_the_limit_selects_the_sites_hosts_it_names(manager: InventoryManager, limit: str | None,
                                                     expected: set[str]) -> None:
    got = _hosts(manager, ansible_limit("site_noumea_ps", limit))
    kinds = {"borne", "screen"}  # the site's deployable hosts; others (printer, gw...) aside
    assert {h for h in got if any(k in h for k in kinds)} == expected, got
    # positive control: the pattern the deploy used before selects the first host only
    if limit and ":" in limit and "!" not in limit:
        assert _hosts(manager, f"site_noumea_ps:&{limit}") == {limit.split(":")[0]}
