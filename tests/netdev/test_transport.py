"""The netmiko/paramiko boundary: every third-party failure becomes one NetdevError line with a
reason; anything else (a bug of ours) is not disguised."""

from __future__ import annotations

import paramiko
import pytest
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

from fleet.errors import FleetError, NetdevError
from fleet.netdev.transport import Endpoint, translated

EP = Endpoint("sw1", "10.48.12.2", 22, "relais", "pw")
KEY, OTHER = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)


@pytest.mark.parametrize(("exc", "reason"), [
    (NetmikoAuthenticationException("Authentication to device failed.\n\nCommon causes..."), "auth"),
    (paramiko.AuthenticationException("Authentication failed."), "auth"),
    (NetmikoTimeoutException("TCP connection to device failed.\n\nCommon causes..."), "timeout"),
    (ReadTimeout("\n\nPattern not detected: 'sw1.*' in output.\n\nThings you might try..."), "prompt"),
    (ValueError("Router prompt not found: 'User Name:'"), "prompt"),
    (ValueError("Failed to enter enable mode. Please ensure you pass the 'secret'"), "auth"),
    (ConnectionRefusedError(111, "Connection refused"), "refused"),
    (TimeoutError("timed out"), "timeout"),
    (paramiko.SSHException("Error reading SSH protocol banner"), "timeout"),
    (paramiko.SSHException("SSH session not active"), "connection_lost"),
    (EOFError(), "connection_lost"),
    (OSError("Socket is closed"), "connection_lost"),
    (OSError(113, "No route to host"), "unreachable"),
    # paramiko's RejectPolicy and a key that differs, raw and as netmiko wraps them
    (paramiko.SSHException("Server '10.48.12.2' not found in known_hosts"), "host_key_unknown"),
    (NetmikoTimeoutException("\nA paramiko SSHException occurred during connection creation:\n\n"
                             "Server '10.48.12.2' not found in known_hosts\n\n"), "host_key_unknown"),
    (paramiko.BadHostKeyException("10.48.12.2", KEY, OTHER), "host_key_changed"),
    (NetmikoTimeoutException("\nA paramiko SSHException occurred during connection creation:\n\n"
                             f"{paramiko.BadHostKeyException('10.48.12.2', KEY, OTHER)}\n"),
     "host_key_changed"),
])
def test_third_party_failures_become_one_line(exc: Exception, reason: str) -> None:
    with pytest.raises(NetdevError) as info, translated(EP, "reading the configuration"):
        raise exc
    assert info.value.reason == reason
    message = str(info.value)
    assert "\n" not in message and message.startswith("sw1 (10.48.12.2:22)")
    assert isinstance(info.value, FleetError) and info.value.__cause__ is exc


def test_our_own_bugs_are_not_disguised() -> None:
    with pytest.raises(ValueError, match="unrelated"), translated(EP, "reading"):
        raise ValueError("unrelated")
    with pytest.raises(KeyError), translated(EP, "reading"):
        raise KeyError("x")
