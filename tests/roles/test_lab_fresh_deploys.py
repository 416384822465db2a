"""A first deploy converges and verifies every time (issue 10): the borne, from a fresh lab
disk, three times in a row.

The first of the three is the package's own first deploy of the whole site (``deployed``); the
two others bring the site down and up again (fresh disks) and deploy the borne alone: the borne
is the host that once came out "not accepted" (its kiosk and session watcher restart each other
during a first deploy), and a borne-only deploy costs about half of a whole site, which keeps
the CI suite within its budget.  This module replaces the lab site: it runs after every other
test (``REPLACES_THE_SITE``, tests/roles/conftest.py).
"""

from __future__ import annotations

import pytest

from fleet.deploy import DeployOutcome
from fleet.lab import down, up
from fleet.lab.pytest_plugin import LabSite
from tests.roles.labkit import BORNE, deploy

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPLACES_THE_SITE = True
Deployed = tuple[LabSite, DeployOutcome, str]


def _borne(out: DeployOutcome) -> str:
    """'accepted', or why not."""
    host = out.hosts.get(BORNE)
    if host is None or host.failed or host.unreachable:
        return f"deploy: {host.message if host else 'not run'}"
    if out.checks is None:
        return "not verified"
    status = out.checks.host_status(BORNE)
    return "accepted" if status == "green" else f"{status}: {out.failed_hosts().get(BORNE)}"


def test_a_fresh_borne_converges_and_verifies_every_time(deployed: Deployed) -> None:
    site, first, url = deployed
    verdicts = [_borne(first)]
    for _ in range(2):
        down(site.lab, site.site.id)
        up(site.lab, site.site)  # fresh disks: nothing of the earlier deploys is left
        out = deploy(site, url, limit=BORNE)
        assert set(out.hosts) == {BORNE}
        verdicts.append(_borne(out))
    assert verdicts == ["accepted"] * 3, verdicts
