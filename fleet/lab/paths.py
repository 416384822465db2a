"""Where the lab keeps things, and how lab objects are named.

Everything lives under one injected root (setting ``lab_root``, default /var/lib/relais-lab):

- ``images/<layer>-<hash>/``  cached image layers (rootfs directories), ``images/apt-repo-<hash>/``
- ``ssh/``                    the lab's own SSH keypair (never in git)
- ``hosts/<site>/<host>/``    per-host overlay upper + work dirs (kept with ``--keep-state``)
- ``run/<site>/``             runtime: state file, merged roots, logs, generated SSH config,
                              known_hosts and Ansible inventory overlay
- ``run/ssh_config``          includes every up site's SSH config
- ``tools/fake-switches/``    the IOS simulator's own virtualenv
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

NETNS_PREFIX = "relais-"
CTL_NETNS = "relais-ctl"
"""The controller namespace: one for all sites, attached to each up site's management bridge."""


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def site_netns(site_id: str) -> str:
    """The namespace holding a site's bridges (management, guest)."""
    return f"{NETNS_PREFIX}{site_id}"


def host_netns(hostname: str) -> str:
    return f"{NETNS_PREFIX}{hostname}"


@dataclass(frozen=True, slots=True)
class LabPaths:
    root: Path

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def ssh_config(self) -> Path:
        return self.run / "ssh_config"

    @property
    def control_dir(self) -> Path:
        return self.run / "cm"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    @property
    def fake_switches_venv(self) -> Path:
        return self.tools / "fake-switches"

    def site_run(self, site_id: str) -> Path:
        return self.run / site_id

    def state_file(self, site_id: str) -> Path:
        return self.site_run(site_id) / "state.json"

    def site_ssh_config(self, site_id: str) -> Path:
        return self.site_run(site_id) / "ssh_config"

    def site_known_hosts(self, site_id: str) -> Path:
        """The site's hosts' SSH host keys (written by ``up``; the SSH config checks them)."""
        return self.site_run(site_id) / "known_hosts"

    def switch_host_key(self, site_id: str, hostname: str) -> Path:
        """The SSH host key of a lab switch (the simulator's own is the same for everyone)."""
        return self.site_run(site_id) / "switch-keys" / hostname

    def site_inventory(self, site_id: str) -> Path:
        return self.site_run(site_id) / "inventory.yml"

    def host_state(self, site_id: str, hostname: str) -> Path:
        """Persistent per-host overlay upper/work (survives ``down`` only with --keep-state)."""
        return self.root / "hosts" / site_id / hostname

    def host_base(self, site_id: str, hostname: str) -> Path:
        """A file in the host's state naming the deployed snapshot's upper the host's own upper
        sits on (an extra read-only overlay layer, :mod:`fleet.lab.snapshot`); absent when the
        host sits on the images alone."""
        return self.host_state(site_id, hostname) / "base"

    def host_root(self, site_id: str, hostname: str) -> Path:
        """Mount point of the host's merged overlay root."""
        return self.site_run(site_id) / "roots" / hostname

    def log(self, site_id: str, name: str) -> Path:
        return self.site_run(site_id) / "logs" / f"{name}.log"
