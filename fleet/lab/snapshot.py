"""Deployed-site snapshots: a lab site as a full deploy left it, kept so that the next rehearsal
of the same site does not deploy again (``fleet demo``: the first run deploys for real, the
next ones restore the snapshot).

A snapshot is the per-host overlay uppers (:meth:`LabPaths.host_state`) of every booted node of
the site, as a full deploy left them, under ``<lab_root>/snapshots/<site>-<key>/``.  Its key
(:func:`snapshot_key`) is a hash of everything a deploy's result depends on: the files of
``roles/``, ``playbooks/``, the inventory, ``ansible.cfg``, and the image layers the hosts sit
on (their directory names carry their own hash), and the lab's SSH key the hosts trust.
Change any of them and the key changes: the
old snapshot is no longer used (and is removed when the new one is saved, one per site).

Nothing is copied (the PCs' and the borne's uppers hold gigabytes of desktop packages): saving
*moves* each upper into the snapshot (a rename, the site being down), and a host runs on a
snapshot as on one more read-only overlay layer, its own fresh upper on top
(:meth:`LabPaths.host_base` names the layer, :func:`fleet.lab.up.up` mounts it).  Restoring is
then a fresh empty upper per host: what a demo's day wrote is gone, the snapshot is as saved.
:func:`fleet.lab.up.up` with ``keep_state=True`` boots the hosts on it (the factory files are
not written again: the snapshot has them).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import LabError
from fleet.inventory.models import Site
from fleet.lab.down import down
from fleet.lab.plan import plan_site
from fleet.lab.sshconf import ensure_keypair
from fleet.lab.state import Lab, read_state

MANIFEST = "snapshot.json"


@dataclass(frozen=True, slots=True)
class Snapshot:
    site_id: str
    key: str
    path: Path
    hosts: tuple[str, ...]
    bytes: int
    seconds: float


def _files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            yield p


def snapshot_key(lab: Lab, site: Site, repo: Path, inventory_root: Path) -> str:
    """The hash a deployed snapshot of ``site`` is valid for (see the module's docstring)."""
    h = hashlib.sha256()
    for top in (repo / "roles", repo / "playbooks", inventory_root, repo / "ansible.cfg"):
        for f in _files(top):
            h.update(str(f.relative_to(repo if top != inventory_root else inventory_root.parent)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    # the hosts trust the lab's key: made now if missing (a fresh machine's first run asks for
    # the key before `up` makes it; "no key" then, and the second run never found its snapshot)
    h.update(ensure_keypair(lab.paths).encode())
    for node in plan_site(site).nodes:
        if node.layer is not None:
            h.update(node.name.encode())
            h.update(",".join(p.name for p in lab.images.lowerdirs(node.layer)).encode())
    return h.hexdigest()[:16]


def _dir(lab: Lab, site_id: str, key: str) -> Path:
    return lab.paths.root / "snapshots" / f"{site_id}-{key}"


def _booted(site: Site) -> list[str]:
    return [n.name for n in plan_site(site).nodes if n.layer is not None]


def find(lab: Lab, site: Site, key: str) -> Snapshot | None:
    """The snapshot of ``site`` for ``key``, if one was saved complete."""
    path = _dir(lab, site.id, key)
    try:
        data = json.loads((path / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    hosts = tuple(data.get("hosts", ()))
    if sorted(hosts) != sorted(_booted(site)) or not all((path / h / "upper").is_dir() for h in hosts):
        return None
    return Snapshot(site.id, key, path, hosts, int(data.get("bytes", 0)), float(data.get("seconds", 0)))


def _size(path: Path) -> int:
    done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
    try:
        return int(done.stdout.split()[0])
    except (IndexError, ValueError):
        return 0


def save(lab: Lab, site: Site, key: str) -> Snapshot:
    """Take the site down (keeping its hosts' state), move the uppers into a new snapshot (the
    hosts then sit on it), and remove the site's older snapshots.  The caller brings the site up
    again (``up(..., keep_state=True)``).  A snapshot is of a deployed site, never of a site
    restored from one (its uppers would hold only what changed since)."""
    t0 = time.monotonic()
    down(lab, site.id, keep_state=True)
    final = _dir(lab, site.id, key)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    hosts = _booted(site)
    for host in hosts:
        upper = lab.paths.host_state(site.id, host) / "upper"
        if lab.paths.host_base(site.id, host).exists():
            raise LabError(f"snapshot: {host} runs on a restored snapshot: deploy the site afresh "
                           f"('fleet demo --fresh') before keeping it")
        if not upper.is_dir():
            raise LabError(f"snapshot: {host} has no state to keep ({upper} missing)")
    tmp.mkdir(parents=True)
    for host in hosts:
        (tmp / host).mkdir()
        (lab.paths.host_state(site.id, host) / "upper").rename(tmp / host / "upper")
    size = _size(tmp)
    (tmp / MANIFEST).write_text(json.dumps({"site": site.id, "key": key, "hosts": hosts, "bytes": size,
                                            "seconds": round(time.monotonic() - t0, 1)}),
                                encoding="utf-8")
    for old in final.parent.glob(f"{site.id}-*"):
        if old != tmp:
            shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    for host in hosts:
        _sit_on(lab, site.id, host, final / host / "upper")
    return Snapshot(site.id, key, final, tuple(hosts), size, time.monotonic() - t0)


def _sit_on(lab: Lab, site_id: str, host: str, layer: Path) -> None:
    """A fresh state for ``host``: an empty upper on the snapshot's ``layer``."""
    state = lab.paths.host_state(site_id, host)
    shutil.rmtree(state, ignore_errors=True)
    (state / "upper").mkdir(parents=True)
    lab.paths.host_base(site_id, host).write_text(f"{layer}\n", encoding="utf-8")


def layers(lab: Lab, site_id: str, host: str) -> list[Path]:
    """The snapshot upper the host's state sits on, as the overlay's top read-only layer (what
    :func:`fleet.lab.up.up` mounts under the host's own upper); none for a host on the images
    alone."""
    base = lab.paths.host_base(site_id, host)
    if not base.is_file():
        return []
    layer = Path(base.read_text("utf-8").strip())
    if not layer.is_dir():
        raise LabError(f"{host}: the deployed snapshot its state sits on is gone ({layer}); "
                       f"'fleet lab down {site_id}' starts the site afresh")
    return [layer]


def restore(lab: Lab, site: Site, snap: Snapshot) -> float:
    """Put every host back on the snapshot as saved, with a fresh empty upper (the site is taken
    down first if it is up); seconds taken.  Then ``up(lab, site, keep_state=True)`` boots the
    deployed site."""
    t0 = time.monotonic()
    if read_state(lab, site.id) is not None:
        down(lab, site.id, keep_state=True)
    for host in snap.hosts:
        _sit_on(lab, site.id, host, snap.path / host / "upper")
    return time.monotonic() - t0


def remove(lab: Lab, site_id: str) -> int:
    """Remove every snapshot of a site (``fleet demo down --forget``); how many."""
    n = 0
    root = lab.paths.root / "snapshots"
    for old in root.glob(f"{site_id}-*") if root.is_dir() else ():
        shutil.rmtree(old, ignore_errors=True)
        n += 1
    return n
