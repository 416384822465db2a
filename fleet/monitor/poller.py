"""The poller: one cycle over many devices, one :class:`Sample` per device.

* One long-lived engine per credential set (:class:`fleet.monitor.engine.Engines`), never one per
  device; create a :class:`Poller` once and call :meth:`Poller.cycle` every interval so the
  engines (sockets, SNMPv3 discovery and keys) live across cycles.
* Per device: one GETBULK carrying the profile's scalars as non-repeaters and its columns as
  repeaters, then GETBULKs for the columns not finished yet, each walk bounded to its column's
  subtree (and ``max_rows``), under a per-device deadline shorter than the interval.
* Bounded concurrency; devices already known down go to a separate, smaller queue with no
  retries so they never hold the slots of the devices that answer.
* Sharding: ``shard=(i, n)`` keeps the sites whose stable hash (CRC-32 of the site id) is ``i``
  modulo ``n``; :func:`poll_sharded` runs ``n`` processes, one per shard, to use every core.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fleet.errors import SnmpError, SnmpReason
from fleet.inventory.models import Device
from fleet.monitor import ber
from fleet.monitor.engine import Engine, Engines
from fleet.monitor.profiles import Cell, Oid, Profile, ProfileSet, load_profiles

__all__ = [
    "Poller",
    "Sample",
    "in_shard",
    "load_profiles",
    "poll_device",
    "poll_devices",
    "poll_sharded",
]

_MAX_REQUESTS_PER_DEVICE = 64
_TOO_BIG = 1
_GEN_ERR = 5


@dataclass(frozen=True, slots=True)
class Sample:
    device: str
    at: datetime
    ok: bool
    error: SnmpReason | None
    """Why the poll failed (None when ``ok``): the same words whatever the engine."""
    metrics: Mapping[str, float | int | str]
    elapsed_ms: float


def utc_now() -> datetime:
    return datetime.now(UTC)


def site_in_shard(site_id: str, shard: tuple[int, int]) -> bool:
    """Stable assignment of a site to one of N shards, on every poller and every run: CRC-32 of
    the site id, modulo N.  (The cycle's ``sites_of_shard`` asks this too.)"""
    index, count = shard
    return zlib.crc32(site_id.encode()) % count == index


def in_shard(device: Device, shard: tuple[int, int] | None) -> bool:
    """Is the device's site in ``shard`` (None: no sharding)?"""
    return shard is None or site_in_shard(device.site_id, shard)


def _address(device: Device) -> tuple[str, int]:
    port = device.snmp.port if device.snmp else 161
    return (str(device.ip), port)


class _Walk:
    """State of one device's GETBULK walk."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.scalars: dict[Oid, Cell] = {}
        self.columns: dict[Oid, dict[Oid, Cell]] = {c: {} for c in profile.column_oids}
        self.last: dict[Oid, Oid] = {c: c for c in profile.column_oids}
        self.active: list[Oid] = list(profile.column_oids)

    def take_scalars(self, varbinds: Sequence[ber.VarBind], wanted: Sequence[Oid]) -> None:
        for (oid, tag, value), want in zip(varbinds, wanted, strict=False):
            if oid == want and tag not in ber.EXCEPTIONS:
                self.scalars[want] = (tag, value)

    def take_rows(self, varbinds: Sequence[ber.VarBind], asked: Sequence[Oid]) -> None:
        width = len(asked)
        if width == 0:
            return
        finished: set[Oid] = set()
        limit = self.profile.max_rows
        for i, (oid, tag, value) in enumerate(varbinds):
            column = asked[i % width]
            if column in finished:
                continue
            n = len(column)
            if (
                tag == ber.END_OF_MIB_VIEW
                or oid[:n] != column
                or oid <= self.last[column]
                or len(self.columns[column]) >= limit
            ):
                finished.add(column)
                continue
            self.columns[column][oid[n:]] = (tag, value)
            self.last[column] = oid
        if not varbinds:
            finished.update(asked)
        self.active = [c for c in self.active if c not in finished]


def _check(pdu: ber.Pdu) -> None:
    if pdu.error_status not in (0, _TOO_BIG):
        raise SnmpError(f"agent answered error-status {pdu.error_status}", "error")


async def read_device(
    engine: Engine,
    address: tuple[str, int],
    profile: Profile,
    *,
    timeout: float,
    retries: int,
) -> dict[str, float | int | str]:
    """Everything the profile asks of one device; raises SnmpError on failure."""
    walk = _Walk(profile)
    scalars = profile.scalar_oids
    reps = profile.max_repetitions
    if not walk.active:
        pdu = await engine.get(address, scalars, timeout=timeout, retries=retries)
        _check(pdu)
        walk.take_scalars(pdu.varbinds, scalars)
        return profile.metrics(walk.scalars, walk.columns)
    parents = [s[:-1] for s in scalars]
    asked = list(walk.active)
    first = [*parents, *asked]
    pdu = await engine.bulk(address, len(parents), reps, first, timeout=timeout, retries=retries)
    requests = 1
    while pdu.error_status == _TOO_BIG and reps > 1:
        reps //= 2
        pdu = await engine.bulk(address, len(parents), reps, first, timeout=timeout, retries=retries)
        requests += 1
    if pdu.error_status == _GEN_ERR and len(asked) > 1:
        return await _column_by_column(engine, address, profile, walk, timeout=timeout,
                                       retries=retries)
    _check(pdu)
    walk.take_scalars(pdu.varbinds[: len(parents)], scalars)
    walk.take_rows(pdu.varbinds[len(parents) :], asked)
    while walk.active and requests < _MAX_REQUESTS_PER_DEVICE:
        asked = list(walk.active)
        starts = [walk.last[c] for c in asked]
        pdu = await engine.bulk(address, 0, reps, starts, timeout=timeout, retries=retries)
        requests += 1
        if pdu.error_status == _TOO_BIG and reps > 1:
            reps //= 2
            continue
        _check(pdu)
        walk.take_rows(pdu.varbinds, asked)
    return profile.metrics(walk.scalars, walk.columns)


async def _column_by_column(
    engine: Engine,
    address: tuple[str, int],
    profile: Profile,
    walk: _Walk,
    *,
    timeout: float,
    retries: int,
) -> dict[str, float | int | str]:
    """The same reading, one column per GETBULK after a GET of the scalars: net-snmp 5.9
    (Debian 12) answers genErr ("snmp_build: unknown failure") to a GETBULK of several columns
    whose repetitions run past the end of the user's view — the snmp_agent role's narrow view
    on every public PC and borne — and answers each column asked alone."""
    scalars = profile.scalar_oids
    requests = 0
    if scalars:
        pdu = await engine.get(address, scalars, timeout=timeout, retries=retries)
        _check(pdu)
        walk.take_scalars(pdu.varbinds, scalars)
        requests += 1
    reps = profile.max_repetitions
    for column in list(walk.active):
        while column in walk.active and requests < _MAX_REQUESTS_PER_DEVICE:
            pdu = await engine.bulk(address, 0, reps, [walk.last[column]], timeout=timeout,
                                    retries=retries)
            requests += 1
            if pdu.error_status == _TOO_BIG and reps > 1:
                reps //= 2
                continue
            _check(pdu)
            walk.take_rows(pdu.varbinds, [column])
    return profile.metrics(walk.scalars, walk.columns)


async def poll_device(
    engines: Engines,
    device: Device,
    profile: Profile,
    *,
    timeout: float = 2.0,
    retries: int = 1,
    deadline: float | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Sample:
    """Poll one device; never raises for a device problem (the Sample says what went wrong)."""
    started = time.perf_counter()
    if deadline is None:
        deadline = default_deadline(timeout, retries)

    def sample(ok: bool, error: SnmpReason | None, metrics: Mapping[str, float | int | str]) -> Sample:
        elapsed = (time.perf_counter() - started) * 1000.0
        return Sample(device.hostname, clock(), ok, error, metrics, round(elapsed, 3))

    if device.snmp is None:
        return sample(False, "error", {})
    try:
        engine = engines.for_credentials(device.snmp)
        async with asyncio.timeout(deadline):
            metrics = await read_device(
                engine, _address(device), profile, timeout=timeout, retries=retries
            )
    except TimeoutError:
        return sample(False, "timeout", {})
    except SnmpError as exc:
        return sample(False, exc.reason, {})
    except (ber.BerError, ValueError, TypeError, KeyError, IndexError):
        # the agent's values did not fit the profile's readers
        return sample(False, "decode_error", {})
    return sample(True, None, metrics)


def default_deadline(timeout: float, retries: int) -> float:
    """Enough for a few round trips after the retries of the first; callers pass less than
    their interval when they need to."""
    return timeout * (retries + 1) + 3 * timeout


@dataclass
class Poller:
    """Long-lived: keeps one engine per credential set across cycles."""

    profiles: ProfileSet
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 200
    down_concurrency: int = 50
    deadline: float | None = None
    clock: Callable[[], datetime] = utc_now
    engines: Engines = field(default_factory=Engines)

    async def cycle(
        self, devices: Sequence[Device], *, down: Collection[str] = frozenset()
    ) -> list[Sample]:
        """Poll every device that has SNMP credentials and a profile; one Sample each, in order.

        ``down``: hostnames that failed last time; they are polled in their own queue, with no
        retries, so they do not hold the slots of devices that answer."""
        fast = asyncio.Semaphore(self.concurrency)
        slow = asyncio.Semaphore(self.down_concurrency)

        async def one(device: Device, profile: Profile) -> Sample:
            is_down = device.hostname in down
            async with slow if is_down else fast:
                return await poll_device(
                    self.engines,
                    device,
                    profile,
                    timeout=self.timeout,
                    retries=0 if is_down else self.retries,
                    deadline=self.deadline,
                    clock=self.clock,
                )

        jobs = [
            one(d, self.profiles[d.kind.value])
            for d in devices
            if d.snmp is not None and d.kind.value in self.profiles
        ]
        return list(await asyncio.gather(*jobs))

    def close(self) -> None:
        self.engines.close()


async def poll_devices(
    devices: Sequence[Device],
    profiles: ProfileSet,
    *,
    timeout: float = 2.0,
    retries: int = 1,
    concurrency: int = 200,
    down: Collection[str] = frozenset(),
    down_concurrency: int = 50,
    deadline: float | None = None,
    shard: tuple[int, int] | None = None,
    engines: Engines | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[Sample]:
    """One cycle.  Pass ``engines`` (kept by the caller) to reuse engines across cycles."""
    own = engines is None
    poller = Poller(
        profiles, timeout, retries, concurrency, down_concurrency, deadline, clock,
        engines if engines is not None else Engines(),
    )
    try:
        return await poller.cycle([d for d in devices if in_shard(d, shard)], down=down)
    finally:
        if own:
            poller.close()


def _run_shard(
    devices: Sequence[Device], profiles_dir: str, shard: tuple[int, int], options: dict[str, float]
) -> list[Sample]:
    profiles = load_profiles(Path(profiles_dir))
    return asyncio.run(
        poll_devices(
            devices,
            profiles,
            timeout=options.get("timeout", 2.0),
            retries=int(options.get("retries", 1)),
            concurrency=int(options.get("concurrency", 200)),
            shard=shard,
        )
    )


def poll_sharded(
    devices: Sequence[Device],
    profiles_dir: Path,
    *,
    processes: int,
    timeout: float = 2.0,
    retries: int = 1,
    concurrency: int = 200,
) -> list[Sample]:
    """One cycle split over ``processes`` worker processes (shard i/n each)."""
    options = {"timeout": timeout, "retries": retries, "concurrency": concurrency}
    if processes <= 1:
        return _run_shard(devices, str(profiles_dir), (0, 1), options)
    with ProcessPoolExecutor(processes) as pool:
        futures = [
            pool.submit(
                _run_shard,
                [d for d in devices if in_shard(d, (i, processes))],
                str(profiles_dir),
                (i, processes),
                options,
            )
            for i in range(processes)
        ]
        return [s for f in futures for s in f.result()]
