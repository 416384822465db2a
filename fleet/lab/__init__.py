"""Layer 2: the lab — rehearse a whole site on one machine with real hosts.

Every device of a site becomes a real host in its own network namespace: public PCs, bornes and
the gateway are booted Debian hosts (systemd-nspawn, overlayfs), printers/UPS/APs answer SNMP
from real-device recordings (snmpsim), the switch is an IOS simulator (fake-switches).  A guest
client gets its address by DHCP from the gateway and reaches a fake internet.  See docs/lab.md.
"""

from __future__ import annotations

from pathlib import Path

from fleet import settings
from fleet.errors import LabError
from fleet.inventory.models import Inventory, Site
from fleet.lab.build import Images, build
from fleet.lab.creds import load_vault
from fleet.lab.down import down, down_all, leftovers
from fleet.lab.netns import in_netns
from fleet.lab.paths import CTL_NETNS, LabPaths
from fleet.lab.plan import SitePlan, plan_site
from fleet.lab.state import DownResult, Lab, UpResult
from fleet.lab.status import SiteStatus, exec_argv, status
from fleet.lab.up import up


def make_lab(
    inventory_root: Path | None = None,
    *,
    lab_root: Path | None = None,
    recordings: Path | None = None,
    with_secrets: bool = True,
) -> Lab:
    """The lab for this inventory: root from the ``lab_root`` setting, recordings from
    ``tests/fixtures/snmprec`` next to the inventory unless given."""
    inv_root = Path(settings.get("inventory", inventory_root))
    root = Path(settings.get("lab_root", lab_root))
    rec = recordings if recordings is not None else inv_root.resolve().parent / "tests" / \
        "fixtures" / "snmprec"
    secrets = load_vault(inv_root) if with_secrets and inv_root.is_dir() else {}
    return Lab(LabPaths(root), rec, secrets)


def find_site(inventory: Inventory, site_id: str) -> Site:
    try:
        return inventory.site(site_id)
    except KeyError:
        import difflib

        ids = [s.id for s in inventory.sites]
        close = difflib.get_close_matches(site_id, ids, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise LabError(f"{inventory.root}: no site '{site_id}'{hint}") from None


__all__ = [
    "CTL_NETNS",
    "DownResult",
    "Images",
    "Lab",
    "LabPaths",
    "SitePlan",
    "SiteStatus",
    "UpResult",
    "build",
    "down",
    "down_all",
    "exec_argv",
    "find_site",
    "in_netns",
    "leftovers",
    "make_lab",
    "plan_site",
    "status",
    "up",
]
