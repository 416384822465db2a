"""Build and cache the lab's images: a Debian bookworm base plus role layers.

Each layer is a directory under ``<lab_root>/images`` named ``<layer>-<hash>``, where the hash
covers the layer's package list, its parent's hash and :data:`BUILD_VERSION`.  A layer is
rebuilt only when one of those changes; a half-built layer lives in a ``.tmp`` directory and is
never used.  The base is made by ``debootstrap --variant=minbase``; role layers are overlayfs
upper directories produced by ``apt-get install`` in a private mount namespace, so a killed
build leaves no mount behind.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from fleet.errors import LabError
from fleet.lab.paths import LabPaths
from fleet.lab.proc import require_root, require_tools, run

BUILD_VERSION = "4"
APT_REPO_VERSION = "2"
"""Bump when the build steps below change, so cached layers are rebuilt."""

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SOURCES_FILE = Path("/etc/apt/sources.list.d/debian.sources")


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    parent: str | None


LAYERS: tuple[Layer, ...] = (
    Layer("base", None),
    Layer("gateway", "base"),
    Layer("client", "base"),
    Layer("fakenet", "base"),
)
ROLE_LAYER: Mapping[str, str] = MappingProxyType({
    "public_pc": "base",
    "borne": "base",
    "gateway": "gateway",
    "client": "client",
    "fakenet": "fakenet",
})


Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


def read_list(name: str) -> list[str]:
    """A package list from fleet/lab/images/<name>.txt: one name per line, # comments."""
    text = resources.files("fleet.lab").joinpath("images", f"{name}.txt").read_text("utf-8")
    items = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            items.append(line)
    return items


def mirror_from_sources(path: Path = SOURCES_FILE) -> str:
    """The Debian mirror URI this machine uses (first ``URIs:`` of the deb822 sources file)."""
    try:
        text = path.read_text("utf-8")
    except OSError:
        return DEFAULT_MIRROR
    for line in text.splitlines():
        m = re.match(r"\s*URIs:\s*(\S+)", line)
        if m and "security" not in m.group(1):
            return m.group(1)
    return DEFAULT_MIRROR


def layer_hash(name: str) -> str:
    layer = next(la for la in LAYERS if la.name == name)
    h = hashlib.sha256()
    h.update(f"{BUILD_VERSION}\n{SUITE}\n{name}\n".encode())
    h.update("\n".join(read_list(name)).encode())
    if layer.parent is not None:
        h.update(layer_hash(layer.parent).encode())
    return h.hexdigest()[:12]


def apt_repo_hash() -> str:
    h = hashlib.sha256(f"{BUILD_VERSION}.{APT_REPO_VERSION}\n".encode())
    h.update("\n".join(sorted(read_list("apt-repo"))).encode())
    h.update(layer_hash("base").encode())
    return h.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Images:
    """Where the cached images are; :meth:`lowerdirs` gives an overlay's lower stack."""

    paths: LabPaths

    def layer_dir(self, name: str) -> Path:
        return self.paths.images / f"{name}-{layer_hash(name)}"

    @property
    def apt_repo(self) -> Path:
        return self.paths.images / f"apt-repo-{apt_repo_hash()}"

    def chain(self, name: str) -> list[str]:
        """Layer names from top to bottom (overlay lowerdir order)."""
        out = [name]
        layer = next(la for la in LAYERS if la.name == name)
        while layer.parent is not None:
            out.append(layer.parent)
            layer = next(la for la in LAYERS if la.name == layer.parent)
        return out

    def lowerdirs(self, name: str) -> list[Path]:
        return [self.layer_dir(n) for n in self.chain(name)]

    def missing(self) -> list[str]:
        out = [la.name for la in LAYERS if not self.layer_dir(la.name).is_dir()]
        if not self.apt_repo.is_dir():
            out.append("apt-repo")
        out += [tool for tool in TOOLS if not tool_bin(self.paths, tool).exists()]
        return out

    def check_built(self) -> None:
        missing = self.missing()
        if missing:
            raise LabError(f"lab images not built ({', '.join(missing)} missing): "
                           "run 'fleet lab build'")


BASE_SETUP = r"""
set -e
id relais >/dev/null 2>&1 || useradd -m -s /bin/bash relais
echo 'relais ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/relais
chmod 0440 /etc/sudoers.d/relais
mkdir -p /etc/ssh/sshd_config.d /etc/systemd/system/ssh.service.d
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' \
    > /etc/ssh/sshd_config.d/relais-lab.conf
rm -f /etc/ssh/ssh_host_*
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
    > /etc/systemd/system/ssh.service.d/relais-keygen.conf
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
         man-db.timer systemd-timesyncd.service e2scrub_reap.service \
         getty@tty1.service console-getty.service; do
    ln -sf /dev/null /etc/systemd/system/$u
done
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/*
"""

LAYER_SETUP = r"""
set -e
M="$1"; shift
mount -t proc proc "$M/proc"
mount --rbind /dev "$M/dev"
cp /etc/resolv.conf "$M/etc/resolv.conf.relais-build"
mv "$M/etc/resolv.conf" "$M/etc/resolv.conf.orig" 2>/dev/null || true
cp /etc/resolv.conf "$M/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$M/usr/sbin/policy-rc.d"; chmod 755 "$M/usr/sbin/policy-rc.d"
chroot "$M" apt-get update -q
DEBIAN_FRONTEND=noninteractive chroot "$M" apt-get install -y -q --no-install-recommends "$@"
chroot "$M" sh -c 'systemctl disable opennds.service 2>/dev/null || true'
chroot "$M" apt-get clean
rm -rf "$M"/var/lib/apt/lists/* "$M/usr/sbin/policy-rc.d" "$M/etc/resolv.conf.relais-build"
rm -f "$M/etc/resolv.conf"
mv "$M/etc/resolv.conf.orig" "$M/etc/resolv.conf" 2>/dev/null || true
"""


def _fresh(tmp: Path) -> None:
    if tmp.exists():
        # a half-built layer from a killed build: its mounts died with its mount namespace
        shutil.rmtree(tmp)


def build_base(images: Images, mirror: str, progress: Progress) -> None:
    final = images.layer_dir("base")
    tmp = final.with_name(final.name + ".tmp")
    _fresh(tmp)
    pkgs = ",".join(read_list("base"))
    progress(f"debootstrap {SUITE} (minbase + {len(read_list('base'))} packages) from {mirror}")
    run(["unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
         f"--include={pkgs}", SUITE, tmp, mirror], timeout=1800, what="debootstrap")
    run(["chroot", tmp, "sh", "-c", BASE_SETUP], what="base image setup")
    tmp.rename(final)


def build_layer(images: Images, name: str, progress: Progress) -> None:
    final = images.layer_dir(name)
    tmp = final.with_name(final.name + ".tmp")
    _fresh(tmp)
    upper, work, merged = tmp / "upper", tmp / "work", tmp / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    parents = images.lowerdirs(name)[1:]
    pkgs = read_list(name)
    progress(f"layer {name}: apt-get install {' '.join(pkgs)}")
    lower = ":".join(str(p) for p in parents)
    script = (f"mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} "
              f"{merged} && sh -c \"$0\" relais-layer \"$@\"")
    run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
         LAYER_SETUP, str(merged), *pkgs], timeout=1800, what=f"layer {name}")
    shutil.rmtree(work)
    merged.rmdir()
    upper.rename(final)
    shutil.rmtree(tmp)


def resolve_apt_repo(images: Images, wanted: list[str]) -> list[str]:
    """``name=version`` of every package apt would download to install ``wanted`` (with their
    recommends, as roles install them) on a host of the base image: apt's own resolver, run in
    simulation against this machine's package lists and the base image's dpkg status."""
    status = images.layer_dir("base") / "var" / "lib" / "dpkg" / "status"
    sim = run(["apt-get", "install", "-s", "-q", "-o", f"Dir::State::status={status}",
               "-o", "APT::Install-Recommends=true", *wanted],
              what="apt-repo.txt: apt-get install --simulate")
    return [f"{name}={version}" for name, version in
            re.findall(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)", sim.stdout, re.M)]


def build_apt_repo(images: Images, progress: Progress) -> None:
    """The fake internet's apt repository: the packages of apt-repo.txt with what they pull in
    on a base-image host, downloaded on this machine (`apt-get download`), indexed by
    dpkg-scanpackages."""
    final = images.apt_repo
    tmp = final.with_name(final.name + ".tmp")
    _fresh(tmp)
    pool = tmp / "pool"
    pool.mkdir(parents=True)
    wanted = read_list("apt-repo")
    if wanted:
        names = resolve_apt_repo(images, wanted)
        progress(f"apt repository: {len(wanted)} listed packages, {len(names)} to download")
        run(["apt-get", "download", "-q", *names], cwd=pool, what="apt-get download",
            timeout=1800)
    packages = run(["dpkg-scanpackages", "--multiversion", "pool", "/dev/null"],
                   cwd=tmp, what="dpkg-scanpackages")
    write_flat_repo_index(tmp, packages.stdout)
    tmp.rename(final)


def write_flat_repo_index(repo: Path, packages: str) -> None:
    """Packages, Packages.gz and a Release file for a flat repository (``deb [trusted=yes] URL ./``)."""
    import gzip

    (repo / "Packages").write_text(packages, "utf-8")
    with gzip.open(repo / "Packages.gz", "wt", encoding="utf-8") as fh:
        fh.write(packages)
    date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
    lines = ["Origin: Relais lab", "Label: Relais lab", f"Suite: {SUITE}", "Codename: lab",
             f"Date: {date}",
             "Architectures: amd64 all", "SHA256:"]
    for name in ("Packages", "Packages.gz"):
        data = (repo / name).read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    (repo / "Release").write_text("\n".join(lines) + "\n", "utf-8")


SYSTEM_PYTHON = "/usr/bin/python3"
"""Tools get their own virtualenvs on Debian's python3 (package python3-venv): snmpsim drops
privileges to ``nobody``, who must be able to read its interpreter's standard library."""

TOOLS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], str]] = MappingProxyType({
    # name: (packages with deps, packages installed --no-deps, entry point that proves it)
    "fake-switches": (("twisted[conch]>=22", "tftpy", "netaddr", "lxml"),
                      ("fake-switches==1.5.0",), "fake-switches"),
    "snmpsim": (("snmpsim==1.2.2", "pysmi>=1.5"), (), "snmpsim-command-responder"),
})


def tool_bin(paths: LabPaths, tool: str) -> Path:
    return paths.tools / tool / "bin" / TOOLS[tool][2]


def build_tool(paths: LabPaths, tool: str, progress: Progress) -> None:
    """A tool in its own virtualenv (fake-switches pins an ancient Twisted; snmpsim runs as
    nobody), built in place of a .tmp directory then renamed: venvs are not relocatable, so the
    scripts' shebangs are rewritten for the final path."""
    venv = paths.tools / tool
    if tool_bin(paths, tool).exists():
        return
    tmp = venv.with_name(venv.name + ".tmp")
    _fresh(tmp)
    with_deps, no_deps, _entry = TOOLS[tool]
    progress(f"{tool} in its own virtualenv")
    python = SYSTEM_PYTHON if Path(SYSTEM_PYTHON).exists() else sys.executable
    run([python, "-m", "venv", tmp], what=f"{tool}: python3 -m venv (install python3-venv)")
    pip = tmp / "bin" / "pip"
    run([pip, "install", "-q", *with_deps], what=f"{tool}: pip install", timeout=900)
    if no_deps:
        run([pip, "install", "-q", "--no-deps", *no_deps], what=f"{tool}: pip install",
            timeout=900)
    for script in (tmp / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            try:
                text = script.read_text("utf-8")
            except UnicodeDecodeError:
                continue
            if str(tmp) in text:
                script.write_text(text.replace(str(tmp), str(venv)), "utf-8")
    cfg = tmp / "pyvenv.cfg"
    cfg.write_text(cfg.read_text("utf-8").replace(str(tmp), str(venv)), "utf-8")
    if venv.exists():
        shutil.rmtree(venv)
    tmp.rename(venv)
    for d in (paths.root, paths.tools):
        d.chmod(0o755)


def build(
    paths: LabPaths,
    *,
    mirror: str | None = None,
    force: Sequence[str] = (),
    progress: Progress = _quiet,
) -> list[str]:
    """Build what is missing (or forced); returns the names of what was built."""
    require_root()
    require_tools("debootstrap", "dpkg-scanpackages", "apt-get", "unshare", "chroot")
    images = Images(paths)
    paths.images.mkdir(parents=True, exist_ok=True)
    built: list[str] = []
    mirror = mirror or mirror_from_sources()
    for layer in LAYERS:
        d = images.layer_dir(layer.name)
        if layer.name in force and d.exists():
            shutil.rmtree(d)
        if d.is_dir():
            continue
        if layer.parent is None:
            build_base(images, mirror, progress)
        else:
            build_layer(images, layer.name, progress)
        built.append(layer.name)
    if "apt-repo" in force and images.apt_repo.exists():
        shutil.rmtree(images.apt_repo)
    if not images.apt_repo.is_dir():
        build_apt_repo(images, progress)
        built.append("apt-repo")
    for tool in TOOLS:
        if tool in force and (paths.tools / tool).exists():
            shutil.rmtree(paths.tools / tool)
        if not tool_bin(paths, tool).exists():
            build_tool(paths, tool, progress)
            built.append(tool)
    if not _lab_in_use(paths):
        prune(images)  # never under a running site: its overlays use these directories
    return built


def _lab_in_use(paths: LabPaths) -> bool:
    prefix = str(paths.run).rstrip("/") + "/"
    with Path("/proc/mounts").open() as fh:
        return any(line.split()[1].startswith(prefix) for line in fh)


def prune(images: Images) -> list[Path]:
    """Remove cached layers no current package list refers to."""
    keep = {images.layer_dir(la.name).name for la in LAYERS} | {images.apt_repo.name}
    removed = []
    for d in images.paths.images.iterdir():
        if d.is_dir() and d.name not in keep and not d.name.endswith(".tmp"):
            shutil.rmtree(d)
            removed.append(d)
    return removed
