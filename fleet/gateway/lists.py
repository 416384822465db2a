"""The DNS filter's lists on the controller, and which of them a gateway gets.

One source of lists on the controller: the **list store** ``<state_dir>/blocklists/``, which
``fleet blocklists update --from ARCHIVE`` fills from a UT1 archive (``lists/<category>/`` and
``meta.json``: where it came from, when it was loaded, the date of the newest list in it, the
counts).  Every push reads it: ``fleet blocklists update`` itself, ``fleet deploy`` and plain
``ansible-playbook`` (the ``content_filter`` role asks :func:`deploy_source` through its
``relais_blocklists_source`` filter), so a deploy never copies the repository's sample lists
over the real lists an update pushed.  Until a store exists the sample lists of the repository
(``blocklists/sample/``, marked by a ``SAMPLE`` file) are used, and the strict ``pmi`` profile
is refused from them outside the lab.

:func:`filter_settings` is the one answer to "which profile, extra categories and allowed
names does this gateway get?" (the role's defaults resolve the same variables the same way).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet import settings
from fleet.errors import ConfigError
from fleet.gateway import ut1
from fleet.inventory.models import Device, Site

SAMPLE_MARKER = "SAMPLE"
REPO_SAMPLE = Path(__file__).resolve().parents[2] / "blocklists" / "sample"
META_FORMAT = 1
STRICT_PROFILES = ("pmi",)
"""Profiles never deployed from sample lists outside the lab."""


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


# ----------------------------------------------------------------------- which filter -----


@dataclass(frozen=True, slots=True)
class FilterSettings:
    profile: str
    extra: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


def filter_settings(site: Site, gateway: Device) -> FilterSettings:
    """The profile, extra categories and allowed names of ``gateway``: ``pmi`` on a site with
    young children (``site_pmi``), else ``standard``, unless ``content_filter_profile`` is set
    for it; ``content_filter_extra_categories``, ``content_filter_allow``.  Read from the typed
    inventory fields (checked when the inventory loads), never from ``Device.vars``."""
    profile = gateway.content_filter_profile or ("pmi" if site.pmi else "standard")
    if profile not in ut1.PROFILES:
        raise ConfigError(f"{gateway.source}: device {gateway.hostname!r}: content_filter_profile "
                          f"{profile!r}: not a profile (choose from {', '.join(ut1.PROFILES)})")
    return FilterSettings(str(profile), tuple(gateway.content_filter_extra_categories),
                          tuple(gateway.content_filter_allow))


# ------------------------------------------------------------------------- list store -----


def store_dir(state_dir: Path | None = None) -> Path:
    """The list store: ``<state_dir>/blocklists``."""
    return Path(settings.get("state_dir", state_dir)) / "blocklists"


@dataclass(frozen=True, slots=True)
class Meta:
    """What a list set is: where it came from and how old it is."""

    source: str
    sample: bool
    loaded_at: datetime | None
    lists_date: datetime | None
    sha256: str | None
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"format": META_FORMAT, "source": self.source, "sample": self.sample,
                "loaded_at": _iso(self.loaded_at), "lists_date": _iso(self.lists_date),
                "sha256": self.sha256, "counts": dict(sorted(self.counts.items()))}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Meta:
        counts = data.get("counts") or {}
        return cls(str(data.get("source", "")), bool(data.get("sample")),
                   _parse_iso(data.get("loaded_at")), _parse_iso(data.get("lists_date")),
                   data.get("sha256") if isinstance(data.get("sha256"), str) else None,
                   {str(k): int(n) for k, n in counts.items()} if isinstance(counts, dict)
                   else {})

    @property
    def dated(self) -> datetime | None:
        """The age reference: the newest list's own date, else when the set was loaded."""
        return self.lists_date or self.loaded_at


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _newest_member(archive: Path) -> datetime | None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            times = [m.mtime for m in tar.getmembers() if m.isfile()
                     and Path(m.name).name == "domains"]
    except (tarfile.TarError, OSError, EOFError):
        return None
    return datetime.fromtimestamp(max(times), UTC) if times else None


def _newest_file(root: Path, categories: list[str]) -> datetime | None:
    times = [(root / c / "domains").stat().st_mtime for c in categories]
    return datetime.fromtimestamp(max(times), UTC) if times else None


def read_meta(store: Path) -> Meta | None:
    try:
        data = json.loads((store / "meta.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return Meta.from_json(data) if isinstance(data, dict) else None


def update_store(source: Path, store: Path, now: datetime) -> tuple[ut1.ListSet, Meta]:
    """Parse ``source`` (UT1 archive or directory) and make it the list store, replaced only
    once the new set parsed completely: a bad archive never clobbers good lists."""
    if not source.exists():
        raise ConfigError(f"--from {str(source)!r}: no such file or directory")
    store.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".relais-ut1-", dir=store.parent) as tmp:
        root = source if source.is_dir() else ut1.extract_archive(source, Path(tmp) / "x")
        lists = ut1.load_dir(root)
        staged = Path(tmp) / "store"
        (staged / "lists").mkdir(parents=True)
        for name in lists.categories:
            shutil.copytree(root / name, staged / "lists" / name)
        sample = (root / SAMPLE_MARKER).is_file()
        if sample:
            shutil.copy2(root / SAMPLE_MARKER, staged / "lists" / SAMPLE_MARKER)
        meta = Meta(
            source=str(source.resolve()),
            sample=sample,
            loaded_at=now,
            lists_date=(_newest_file(root, list(lists.categories)) if source.is_dir()
                        else _newest_member(source)),
            sha256=None if source.is_dir() else _sha256(source),
            counts=lists.counts(),
        )
        (staged / "meta.json").write_text(json.dumps(meta.to_json(), indent=1) + "\n", "utf-8")
        old = store.with_name(store.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if store.exists():
            store.rename(old)
        staged.rename(store)
        shutil.rmtree(old, ignore_errors=True)
    return lists, meta


# --------------------------------------------------------------------- what to deploy -----


@dataclass(frozen=True, slots=True)
class DeploySource:
    """The lists a gateway gets, and whether they may be deployed there."""

    path: Path
    meta: Meta
    profile: str
    lab: bool
    problem: str = ""

    def gateway_meta(self) -> str:
        """``/var/lib/relais/blocklists/meta.json`` on the gateway (what the gateway check
        reads for the lists' age and origin).  The same text whoever pushes (the role, or
        ``fleet blocklists update``), so a deploy after an update changes nothing."""
        data = {**self.meta.to_json(), "profile": self.profile, "lab": self.lab}
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sample": self.meta.sample, "problem": self.problem,
                "meta_text": self.gateway_meta(), "source": self.meta.source}


def deploy_source(profile: str, lab: bool, *, store: Path | None = None,
                  lists_dir: Path | None = None, sample_dir: Path = REPO_SAMPLE) -> DeploySource:
    """Which lists to push for ``profile``: ``lists_dir`` when set explicitly, else the list
    store when ``fleet blocklists update`` filled it, else the repository's sample lists.

    ``problem`` is a one-line refusal (empty when fine): a strict profile from sample lists
    outside the lab, a missing directory."""
    if lists_dir is not None and str(lists_dir):
        path = lists_dir
        meta = read_meta(lists_dir.parent) if lists_dir.name == "lists" else None
        if meta is None:
            meta = Meta(str(lists_dir), (lists_dir / SAMPLE_MARKER).is_file(), None, None,
                        None, {})
        where = f"content_filter_lists_dir {lists_dir}"
    else:
        kept = store_dir(None) if store is None else store
        meta = read_meta(kept)
        if meta is not None and (kept / "lists").is_dir():
            path, where = kept / "lists", f"the list store {kept}"
        else:
            path, where = sample_dir, str(sample_dir)
            meta = Meta(str(sample_dir), True, None, None, None, {})
    problem = ""
    if not path.is_dir():
        problem = f"{where}: not a directory"
    elif meta.sample and profile in STRICT_PROFILES and not lab:
        problem = (f"profile {profile!r} from sample lists ({where}) outside the lab: load the "
                   "real UT1 lists first: fleet blocklists update --from blacklists.tar.gz")
    return DeploySource(path, meta, profile, lab, problem)
