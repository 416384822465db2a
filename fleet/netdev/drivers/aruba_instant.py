"""Aruba Instant access points (the virtual controller's CLI): netmiko ``aruba_os``.

SSIDs are ``wlan ssid-profile`` blocks; a change only takes effect after ``commit apply``,
which :meth:`ArubaInstantDriver.save` sends right after the push, before the verification
(and after a rollback's push).  The running
configuration shows passphrases and SNMP keys encrypted; both sides are masked before
comparing, so a changed passphrase alone is not seen (see docs/technician.md).

Proven on recorded CLI transcripts (``tests/netdev/transcripts/aruba_instant``), reconstructed
from the Aruba Instant 8.10 CLI reference, not captured from an access point.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, ClassVar

from fleet.errors import NetdevError
from fleet.inventory.network import NetGear, Platform, Security, SiteNetwork
from fleet.netdev.config import MASK, Changes, Dialect, Normalised, Scope, patterns, substitutions
from fleet.netdev.drivers.base import CliRules, Driver, cli_commands
from fleet.netdev.transport import Timeouts

DIALECT = Dialect(
    name="aruba_instant",
    comment=re.compile(r"^\s*!"),
    volatile=patterns([r"^Building configuration", r"^Current configuration"]),
    secrets=substitutions([
        (r"^(wpa-passphrase) \S+", rf"\1 {MASK}"),
        (r"^(virtual-controller-key) \S+", rf"\1 {MASK}"),
        (r"^(snmp-server community) \S+", rf"\1 {MASK}"),
        (r"^(snmp-server user \S+ \S+) \S+ (\S+) \S+", rf"\1 {MASK} \2 {MASK}"),
        (r"^(mgmt-user \S+) \S+", rf"\1 {MASK}"),
        (r"^(key) \S+", rf"\1 {MASK}"),
    ]),
    skip=patterns([r"exit", r"end"]),
)

MANAGED_TOP = re.compile(
    r"^(name |wlan ssid-profile |ntp-server |syslog-server |snmp-server (user|community) )")
MANAGED_CHILD = re.compile(r"^(enable$|disable$|essid |opmode |vlan |wpa-passphrase |hide-ssid$|type )")

OPMODE = MappingProxyType({Security.OPEN: "opensystem", Security.WPA2_PSK: "wpa2-psk-aes",
          Security.WPA3_SAE: "wpa3-sae-aes"})


def _priority(header: str) -> int:
    return 1 if header.startswith("wlan ") else 0


RULES = CliRules(priority=_priority, single_keys=("essid", "opmode", "vlan", "wpa-passphrase", "type"),
                 top_single_keys=("name",))


class ArubaInstantDriver(Driver):
    platform: ClassVar[Platform] = Platform.ARUBA_INSTANT
    netmiko_type: ClassVar[str] = "aruba_os"
    template: ClassVar[str] = "aruba_instant.j2"
    dialect: ClassVar[Dialect] = DIALECT
    save_command: ClassVar[str | None] = "commit apply"
    commit_to_apply: ClassVar[bool] = True
    error_patterns = patterns([r"Invalid input", r"^\s*% ?Incomplete", r"^\s*Parse error",
                               r"^\s*% ?Ambiguous", r"^\s*ERROR"])

    def template_context(self, network: SiteNetwork, gear: NetGear) -> dict[str, Any]:
        user = network.snmp_user
        return {
            "opmode": {s.name: OPMODE[s.security] for s in network.ssids},
            "auth": {"SHA": "sha", "SHA256": "sha256", "SHA512": "sha512"}.get(
                user.auth_protocol, "sha") if user else "",
            "priv": {"AES": "aes", "AES192": "aes192", "AES256": "aes256"}.get(
                user.priv_protocol, "aes") if user else "",
        }

    def scope(self, intended: Normalised) -> Scope:
        ours = set(intended.sections)
        return Scope(sections=lambda h: h in ours or bool(MANAGED_TOP.match(h)),
                     children=lambda h, c: bool(MANAGED_CHILD.match(c)))

    def commands(self, changes: Changes, target: Normalised) -> list[str]:
        return cli_commands(changes, RULES)

    def send_config_line(self, conn: Any, command: str, timeouts: Timeouts) -> str:
        # netmiko's aruba_os turns command echo checks off (the CLI completes words on space),
        # which makes send_config_set wait ~2 s per line: wait for the prompt instead
        out: str = conn.send_command(command, expect_string=r"[>#]\s*$", read_timeout=timeouts.read,
                                     strip_prompt=False, strip_command=False)
        return out

    def save(self, conn: Any, timeouts: Timeouts) -> None:
        out: str = conn.send_command("commit apply", read_timeout=timeouts.read)
        refused = self.refusal(out)
        if refused is not None:
            raise NetdevError(f"commit apply refused: {refused}", reason="rejected")

    def prepare(self, conn: Any) -> None:
        return  # netmiko's aruba_os preparation enables and runs "no paging"
