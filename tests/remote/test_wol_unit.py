"""The lab's Wake-on-LAN stand-in, without a lab: what a card recognises, how it is run."""

from __future__ import annotations

import shlex
import socket
import struct
import subprocess
import sys
from pathlib import Path

from fleet.lab import wol
from fleet.remote.wake import send_command

MAC = "02:48:12:00:00:12"


def _eth(ethertype: int, payload: bytes) -> bytes:
    return b"\xff" * 6 + bytes.fromhex("020000000001") + struct.pack("!H", ethertype) + payload


def test_card_reads_udp_and_ethertype_packets() -> None:
    magic = wol.magic_for(MAC)
    assert magic[:6] == b"\xff" * 6 and len(magic) == 102
    udp = struct.pack("!HHHH", 40000, 9, 8 + len(magic), 0) + magic
    ip = b"\x45" + b"\x00" * 8 + bytes([socket.IPPROTO_UDP]) + b"\x00" * 10
    assert wol.frame_wakes(_eth(0x0800, ip + udp), MAC)
    assert wol.frame_wakes(_eth(wol.ETH_P_WOL, magic), MAC)
    # another card's packet, a truncated one, the sync stream alone: not for this card
    assert not wol.frame_wakes(_eth(0x0800, ip + wol.magic_for("02:48:12:00:00:11")), MAC)
    assert not wol.frame_wakes(_eth(0x0800, ip + magic[:-6]), MAC)
    assert not wol.frame_wakes(_eth(0x0800, b"\xff" * 6 + b"\x00" * 96), MAC)


def test_the_gateway_sends_what_the_card_reads() -> None:
    """The wake action's sender program, run for real towards a socket on loopback, sends
    exactly the payload the stand-in card looks for."""
    argv = shlex.split(send_command("10.48.12.255", [MAC]))
    assert argv[0] == "python3" and argv[3:] == ["10.48.12.255", "9", "3", MAC]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(30)
        port = rx.getsockname()[1]
        subprocess.run([sys.executable, "-c", argv[2], "127.0.0.1", str(port), "1", MAC],
                       check=True, timeout=30)
        data = rx.recv(2048)
    assert data == wol.magic_for(MAC)
    assert wol.frame_wakes(b"\x00" * 14 + b"\x00" * 28 + data, MAC)


def test_supply_argv_is_recognised_by_lab_down(tmp_path: Path) -> None:
    nspawn = ["systemd-nspawn", "--boot", "--network-namespace-path=/run/netns/relais-florac-fs-pc2",
              "-D", "/x"]
    argv = wol.supply_argv(nspawn, host="florac-fs-pc2", netns="relais-florac-fs-pc2",
                           site_netns="relais-florac-fs", mac=MAC, state_dir=tmp_path)
    assert argv[:2] == ["bash", "-c"] and f"exec -a {wol.ARGV0}" in argv[2]
    assert wol.ARGV0.endswith("systemd-nspawn")  # fleet lab down kills it with the container
    assert argv[-len(nspawn):] == nspawn and "--mac" in argv


def test_wol_switch_and_state(tmp_path: Path) -> None:
    wol.set_wol(tmp_path, "pc", False)
    assert (tmp_path / "pc.no-wol").exists()
    wol.set_wol(tmp_path, "pc", True)
    assert not (tmp_path / "pc.no-wol").exists()
    assert wol.power_state(tmp_path, "pc") == {}
