"""One contract every netdev driver passes (NAPALM's pattern): the same tests against the real
IOS simulator and against the replayed transcripts of ArubaOS-Switch, Aruba Instant and
RouterOS (tests/netdev/transcripts/, reconstructed from vendor documentation)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleet.errors import NetdevError
from fleet.inventory.network import Platform
from fleet.netdev.config import MASK, Changes, Normalised
from fleet.netdev.engine import apply_device, backup_device, intended_of, plan_device
from fleet.netdev.transport import Timeouts
from fleet.store import Store
from fleet.store.netdev import backup_history, latest_backup
from tests.netdev.conftest import BEFORE_SECRET, PASSWORD, TIMEOUTS, Device
from tests.netdev.intent import SECRET_VALUES
from tests.netdev.replay import SilentServer, closed_port

GOLDEN = Path(__file__).resolve().parent / "golden"


class Incidents:
    """An incident log that remembers what it was told (the CLI's writes to fleet.incidents)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def push_failed(self, **kw: Any) -> None:
        self.calls.append(kw)

    def push_ok(self, **kw: Any) -> None:
        self.calls.append({"ok": True, **kw})


def _scoped(device: Device, text: str) -> Normalised:
    return device.driver.normalise(text)


def _same_managed(device: Device, a: str, b: str) -> Changes:
    """Differences between two reads within what Relais manages on the device."""
    intended = intended_of(device.driver, device.target)
    na, nb = device.driver.normalise(a), device.driver.normalise(b)
    return device.driver.diff(na, nb, device.driver.scope(intended))


# ------------------------------------------------------------------------------ reading


def test_read_running_is_the_configuration_and_nothing_else(device: Device) -> None:
    text = device.read()
    normalised = device.driver.normalise(text)
    assert len(normalised.sections) >= 4, text[:300]
    assert "\x1b" not in text
    first = text.lstrip().splitlines()[0]
    assert device.driver.show_running not in first
    prompt_char = "#" if device.platform is not Platform.MIKROTIK_ROUTEROS else "] >"
    assert not any(line.rstrip().endswith(prompt_char) and device.target.hostname in line
                   for line in text.splitlines()), "a prompt was left in the configuration"


def test_backup_keeps_one_version_per_change_and_masks_every_secret(device: Device,
                                                                     store: Store) -> None:
    ctx = device.context(store)
    first = backup_device(device.target, ctx)
    again = backup_device(device.target, ctx)
    assert (first.status, first.version) == ("new", 1), first.message
    assert (again.status, again.version) == ("unchanged", 1)
    assert len(backup_history(store, device.target.hostname)) == 1
    stored = latest_backup(store, device.target.hostname)
    assert stored is not None
    assert BEFORE_SECRET in device.read() or device.platform is Platform.ARUBA_INSTANT  # control
    assert BEFORE_SECRET not in stored.config
    assert MASK in stored.config


# ---------------------------------------------------------------------- plan and apply


def test_plan_shows_the_difference_and_pushes_nothing(device: Device) -> None:
    before = device.read()
    plan = plan_device(device.target, device.context())
    assert plan.ok, plan.error
    assert plan.changes and plan.commands > 0
    if device.server is not None:
        assert device.server.log.config_lines() == []
    else:
        assert not _same_managed(device, before, device.read())


def test_apply_pushes_the_difference_converges_then_pushes_nothing(device: Device,
                                                                     store: Store) -> None:
    pushed: list[str] = []
    first = apply_device(device.target, device.context(store),
                         lambda _i, _n, command: pushed.append(command))
    assert first.status == "applied", first.message
    assert first.pushed == first.total == len(pushed) > 0
    golden = GOLDEN / f"{device.platform.value}.push"
    text = "".join(c + "\n" for c in pushed)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    if device.server is not None:
        assert device.server.log.config_lines() == [c.strip() for c in pushed
                                                    if c.strip() not in ("exit", "end")]
    for secret in SECRET_VALUES:  # what apply stored is masked too
        for version in backup_history(store, device.target.hostname):
            assert secret not in (latest_backup(store, version.device) or version).config
    second = apply_device(device.target, device.context(store))
    assert (second.status, second.pushed) == ("unchanged", 0), second.message
    plan = plan_device(device.target, device.context())
    assert plan.ok and not plan.changes, plan.to_json()


# ---------------------------------------------------------------- failures and rollback


class _Refusing:
    """The device's own driver, with a line the device refuses slipped in the push."""

    def __init__(self, inner: Any, at: int) -> None:
        self.inner = inner
        self.at = at

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        out: list[str] = self.inner.commands(changes, target)
        if self.at < 0:  # once: the rollback's own push is left alone
            return out
        at, self.at = self.at, -1
        return [*out[:at], "relais-bogus-command", *out[at:]]


def test_a_refused_line_rolls_back_and_is_reported(platform: Platform,
                                                   make_device: Callable[..., Device]) -> None:
    device = make_device(platform, "rollback")
    before = device.read()
    refusing = _Refusing(device.driver, 8)
    incidents = Incidents()
    ctx = device.context(incidents=incidents, drivers=lambda _p: refusing)
    result = apply_device(device.target, ctx)
    assert result.status == "rolled_back", result.message
    assert result.pushed == 8
    assert "refused line 9" in result.message and "previous configuration" in result.message
    assert len(incidents.calls) == 1
    call = incidents.calls[0]
    assert call["device"] == device.target.hostname and call["data"]["status"] == "rolled_back"
    assert not _same_managed(device, before, device.read())
    if device.server is not None:
        assert ("refused", "relais-bogus-command") in device.server.log.lines
    if device.server is None:  # the simulator keeps state: a normal apply now succeeds
        fixed = apply_device(device.target, device.context(incidents=incidents))
        assert fixed.status == "applied", fixed.message
        assert incidents.calls[-1].get("ok") and incidents.calls[-1]["device"] == device.target.hostname


def test_a_connection_dropped_mid_push_leaves_the_previous_configuration(
    platform: Platform, make_device: Callable[..., Device],
) -> None:
    device = make_device(platform, "rollback")
    before = device.read()
    incidents = Incidents()
    ctx = device.context(incidents=incidents)

    def drop_after_three(done: int, _total: int, _command: str) -> None:
        if done == 3:
            device.sockets[-1].shutdown(socket.SHUT_RDWR)

    result = apply_device(device.target, ctx, drop_after_three)
    assert result.status == "rolled_back", result.message
    assert result.pushed == 3 and result.total > 3
    assert "connection lost" in result.message
    assert "rolled back" in incidents.calls[0]["detail"]
    after = device.read()
    assert not _same_managed(device, before, after), "the device is not on its previous configuration"
    if device.server is None:
        # control: the three lines had reached the simulator before the drop
        assert device.sims is not None


def test_wrong_password_is_one_clear_line(device: Device) -> None:
    with pytest.raises(NetdevError) as info:
        device.driver.open(device.endpoint(password=PASSWORD + "-wrong"), device.connector(), TIMEOUTS,
                           device.host_keys())
    assert info.value.reason == "auth"
    assert device.target.hostname in str(info.value) and "\n" not in str(info.value)
    # positive control: the right password opens the same device
    device.driver.open(device.endpoint(), device.connector(), TIMEOUTS, device.host_keys()).close()


def test_a_device_that_never_answers_times_out(platform: Platform) -> None:
    from fleet.netdev.drivers import driver_for

    driver = driver_for(platform)
    with SilentServer() as silent:
        ep = _endpoint(silent.host, silent.port)
        with pytest.raises(NetdevError) as info:
            driver.open(ep, _to(silent.host, silent.port), Timeouts(connect=2, banner=1, auth=1))
    assert info.value.reason == "timeout", str(info.value)
    assert "\n" not in str(info.value)


def test_a_device_without_a_prompt_is_reported_as_such(platform: Platform,
                                                       make_device: Callable[..., Device]) -> None:
    device = make_device(platform, mode="no_prompt")
    with pytest.raises(NetdevError) as info:
        device.driver.open(device.endpoint(), device.connector(),
                           Timeouts(connect=5, banner=5, auth=5, every_read=2),
                           device.host_keys())
    assert info.value.reason == "prompt", str(info.value)
    assert device.server is not None and device.server.log.logins  # it did log in


def test_a_closed_port_is_refused(platform: Platform) -> None:
    from fleet.netdev.drivers import driver_for

    port = closed_port()
    with pytest.raises(NetdevError) as info:
        driver_for(platform).open(_endpoint("127.0.0.1", port), _to("127.0.0.1", port), TIMEOUTS)
    assert info.value.reason == "refused"


# ------------------------------------------------------------------------------ helpers

def _endpoint(host: str, port: int) -> Any:
    from fleet.netdev.transport import Endpoint

    return Endpoint("test-dev", host, port, "relais", PASSWORD, PASSWORD)


def _to(host: str, port: int) -> Any:
    def connect(_h: str, _p: int, timeout: float) -> socket.socket:
        return socket.create_connection((host, port), timeout=timeout)

    return connect
