"""``restart-service NAME``: restart one service from an allowlist per device kind (nothing
else can be restarted this way), then check that it is active again.  Always a change."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import systemd

from fleet.errors import ActionRefused
from fleet.inventory.models import Device, DeviceKind
from fleet.remote.base import ActionSpec, Request, Result, outcome_of, read_command
from fleet.remote.pyinfra_run import HostReport, run

#: Service names the hotline may restart, per device kind -> the systemd unit.
ALLOWED: Mapping[DeviceKind, Mapping[str, str]] = MappingProxyType({
    DeviceKind.PUBLIC_PC: MappingProxyType({
        "snmpd": "snmpd.service", "cups": "cups.service", "nftables": "nftables.service"}),
    DeviceKind.BORNE: MappingProxyType({
        "snmpd": "snmpd.service", "kiosk": "relais-kiosk.service", "nftables": "nftables.service"}),
    DeviceKind.GATEWAY: MappingProxyType({
        "snmpd": "snmpd.service", "opennds": "opennds.service", "dnsmasq": "dnsmasq.service",
        "nftables": "nftables.service"}),
})
ALIASES: Mapping[str, str] = MappingProxyType({"relais-kiosk": "kiosk", "cupsd": "cups"})

SPEC = ActionSpec(
    "restart-service", frozenset(ALLOWED),
    "Restart one allowed service (snmpd, kiosk, cups, opennds, dnsmasq, nftables) and check it is active",
    argument="NAME", idempotent="always restarts (changed)",
)


def unit_for(device: Device, name: str | None) -> str:
    """The unit behind ``name`` on this device, or ActionRefused naming what is allowed."""
    allowed = ALLOWED.get(device.kind, {})
    if not name:
        raise ActionRefused(f"restart-service: give the service NAME ({', '.join(sorted(allowed))} "
                            f"on a {device.kind.value})")
    key = ALIASES.get(name.removesuffix(".service"), name.removesuffix(".service"))
    if key not in allowed:
        raise ActionRefused(f"restart-service {name!r}: not allowed on {device.hostname} "
                            f"({device.kind.value}); allowed: {', '.join(sorted(allowed))}")
    return allowed[key]


def perform(req: Request) -> list[Result]:
    units = {d.hostname: unit_for(d, req.argument) for d in req.devices}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            add_op(state, systemd.service, name="Restart the service", service=units[host.name],
                   running=True, restarted=True, host=host, _timeout=req.op_timeout)

    def after(state: State) -> Mapping[str, str | HostReport]:
        out: dict[str, str | HostReport] = {}
        for host in state.inventory.get_active_hosts():
            unit = units[host.name]
            active = read_command(host, f"systemctl is-active {unit} || true", req.timeout) or "?"
            out[host.name] = HostReport(f"{unit} restarted, {active}", ok=active == "active",
                                        changed=True, data={"unit": unit, "state": active})
        return out

    outcomes = run([req.target(d) for d in req.devices], queue, after, timeout=req.timeout)
    return [outcome_of(o, "restarted", "restarted") for o in outcomes]
