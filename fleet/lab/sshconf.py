"""What tools need to reach lab hosts: an SSH config and an Ansible inventory overlay.

SSH goes through the controller namespace (``ProxyCommand ip netns exec relais-ctl nc %h %p``)
with ControlMaster, so ansible-playbook, pyinfra, fabric and testinfra reach lab hosts unchanged::

    ssh -F /var/lib/relais-lab/run/ssh_config florac-fs-pc1
    ansible-playbook -i inventory/ -i /var/lib/relais-lab/run/florac-fs/inventory.yml site.yml
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from fleet.lab.creds import device_var
from fleet.lab.paths import CTL_NETNS, LabPaths
from fleet.lab.plan import NodeKind, SitePlan
from fleet.lab.proc import run


def ensure_keypair(paths: LabPaths) -> str:
    """The lab's own SSH keypair (kept under the lab root, never in git); returns the public key."""
    key = paths.ssh_key
    if not key.exists():
        paths.ssh_dir.mkdir(parents=True, exist_ok=True)
        paths.ssh_dir.chmod(0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "relais-lab", "-f", key],
            what="ssh-keygen")
    return key.with_suffix(".pub").read_text("utf-8").strip()


def host_block(name: str, ip: str, user: str, paths: LabPaths, site_id: str) -> str:
    """One host: reached through the controller namespace, its host key checked against the
    site's known_hosts (written by ``up`` from the keys it gave the hosts), never trusted blindly."""
    cm = paths.site_run(site_id) / "cm"
    return "\n".join([
        f"Host {name} {ip}",
        f"  HostName {ip}",
        f"  User {user}",
        f"  IdentityFile {paths.ssh_key}",
        "  IdentitiesOnly yes",
        "  StrictHostKeyChecking yes",
        f"  UserKnownHostsFile {paths.site_known_hosts(site_id)}",
        "  LogLevel ERROR",
        f"  ProxyCommand ip netns exec {CTL_NETNS} nc %h %p",
        "  ControlMaster auto",
        f"  ControlPath {cm}/%C",
        "  ControlPersist 120s",
        "  ConnectTimeout 10",
        "",
    ])


def write_site_files(paths: LabPaths, plan: SitePlan, secrets: Mapping[str, str],
                     host_keys: Mapping[str, str]) -> None:
    """The site's SSH config, known_hosts (``host_keys``: hostname -> public host key) and
    Ansible inventory overlay."""
    (paths.site_run(plan.site_id) / "cm").mkdir(parents=True, exist_ok=True)
    known = [f"{n.name},{n.ip} {host_keys[n.name]}" for n in plan.nodes
             if n.name in host_keys and n.ip is not None]
    paths.site_known_hosts(plan.site_id).write_text(
        "".join(line + "\n" for line in known), "utf-8")
    blocks = [f"# fleet lab: site {plan.site_id} (generated; do not edit)\n"]
    hosts: dict[str, dict[str, object]] = {}
    for node in plan.nodes:
        if node.device is None or node.ip is None:
            continue
        if node.kind is NodeKind.HOST:
            blocks.append(host_block(node.name, str(node.ip), "relais", paths, plan.site_id))
            hosts[node.name] = {
                "ansible_host": str(node.ip),
                "ansible_user": "relais",
                "ansible_ssh_private_key_file": str(paths.ssh_key),
                "ansible_ssh_common_args": f"-F {paths.ssh_config}",
                "lab_netns": node.netns,
            }
        elif node.kind is NodeKind.SWITCH:
            user = device_var(node.device, "netdev_username", secrets, "admin")
            blocks.append(host_block(node.name, str(node.ip), user, paths, plan.site_id)
                          .replace("  IdentitiesOnly yes\n", "")
                          .replace(f"  IdentityFile {paths.ssh_key}\n", ""))
            hosts[node.name] = {"ansible_host": str(node.ip), "lab_netns": node.netns,
                                "lab_ssh_config": str(paths.ssh_config)}
        else:
            hosts[node.name] = {"ansible_host": str(node.ip), "lab_netns": node.netns}
    paths.site_ssh_config(plan.site_id).write_text("\n".join(blocks), "utf-8")
    overlay = {"all": {"hosts": hosts, "vars": {"lab_site": plan.site_id,
                                                   "lab_ssh_config": str(paths.ssh_config)}}}
    paths.site_inventory(plan.site_id).write_text(
        "# fleet lab: inventory overlay for site " + plan.site_id + " (generated).\n"
        "# Use after the real inventory: ansible-playbook -i inventory/ -i THIS_FILE ...\n"
        + yaml.safe_dump(overlay, sort_keys=True), "utf-8")
    write_main_config(paths)


def write_main_config(paths: LabPaths) -> None:
    """run/ssh_config includes every up site's config (a glob, so it never goes stale)."""
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.ssh_config.write_text(
        "# fleet lab: SSH config for every lab site that is up (generated)\n"
        f"Include {paths.run}/*/ssh_config\n", "utf-8")


def close_masters(paths: LabPaths, site_id: str) -> None:
    """Stop the site's ControlMaster connections (their sockets are in run/<site>/cm)."""
    cm = paths.site_run(site_id) / "cm"
    if not cm.is_dir():
        return
    for sock in cm.iterdir():
        run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab"], check=False, timeout=5)
        Path(sock).unlink(missing_ok=True)
