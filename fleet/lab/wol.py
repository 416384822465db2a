"""Lab stand-in for a PC's power supply and its network card's Wake-on-LAN.

A real public PC that powers off stays off until a magic packet reaches its network card; one
that reboots comes back by itself.  A lab host is a ``systemd-nspawn`` container: when it powers
off, nspawn exits with status 0; when it reboots, with 133 (nspawn itself never restarts it).
So every booted lab host runs under a small *power supply* process (this module, ``supply``):

- exit 133 (reboot): the container is started again at once, as a machine's firmware would;
- exit 0 (power off): the host stays off; a *listener* (``listen``) runs in the site's
  namespace on the management bridge ``brm`` and waits for a Wake-on-LAN magic packet (six
  ``ff`` bytes then the MAC sixteen times, in any Ethernet frame: EtherType 0x0842 or a UDP
  datagram, as ``wakeonlan`` and ``etherwake`` send them) carrying the host's MAC from the
  inventory (``device_mac``); then the container is started again;
- any other exit (killed by ``fleet lab down``): the supply ends too.

The card's Wake-on-LAN can be switched off (a BIOS setting) with :func:`set_wol`: magic packets
are then ignored, which is how the tests make a PC "not back at opening".  The supply writes
the host's power state (``on``, ``off``, ``rebooting``) and boot count to
``run/<site>/power/<host>.json`` (:func:`power_state`).

Standard library only: it runs by path with ``python -I``.  Its command line starts with
``relais-lab-power:systemd-nspawn`` and carries the nspawn arguments, so ``fleet lab down``
recognises and kills it with the container, and reports it as a leftover if it survived.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ARGV0 = "relais-lab-power:systemd-nspawn"
ETH_P_ALL = 0x0003
ETH_P_WOL = 0x0842
REBOOT_STATUS = 133


def supply_argv(nspawn: Sequence[str], *, host: str, netns: str, site_netns: str,
                mac: str | None, state_dir: Path) -> list[str]:
    """The argv that runs ``nspawn`` under a power supply (what ``fleet lab up`` spawns)."""
    script = str(Path(__file__).resolve())
    args = [sys.executable, "-I", script, "supply", "--host", host, "--netns", netns,
            "--site-netns", site_netns, "--state-dir", str(state_dir)]
    if mac:
        args += ["--mac", mac.lower()]
    # exec -a: the process's argv[0] names it for `fleet lab down` (see the module docstring)
    return ["bash", "-c", f'exec -a {ARGV0} "$@"', "relais-lab-power", *args, "--", *nspawn]


def state_path(state_dir: Path, host: str) -> Path:
    return state_dir / f"{host}.json"


def power_state(state_dir: Path, host: str) -> dict[str, Any]:
    """The host's last power state as the supply wrote it ({} before its first start)."""
    try:
        data: dict[str, Any] = json.loads(state_path(state_dir, host).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def set_wol(state_dir: Path, host: str, enabled: bool) -> None:
    """Switch the host card's Wake-on-LAN on or off (off: magic packets are ignored)."""
    flag = state_dir / f"{host}.no-wol"
    if enabled:
        flag.unlink(missing_ok=True)
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        flag.write_text("Wake-on-LAN disabled (lab)\n", "utf-8")


def magic_for(mac: str) -> bytes:
    """The magic packet's payload for ``mac`` (aa:bb:cc:dd:ee:ff)."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return b"\xff" * 6 + raw * 16


def frame_wakes(frame: bytes, mac: str) -> bool:
    """Does this Ethernet frame carry a magic packet for ``mac``?  Read as a network card does:
    the sync stream and sixteen copies of its own address, anywhere in the payload."""
    return magic_for(mac) in frame[14:]


def _write_state(state_dir: Path, host: str, **data: Any) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_path(state_dir, host)
    old = power_state(state_dir, host)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**old, **data, "at": time.time()}, sort_keys=True), "utf-8")
    tmp.replace(path)


# ----------------------------------------------------------------------------- processes


def _listen(iface: str, mac: str, no_wol: Path) -> int:
    """Block until a magic packet for ``mac`` crosses ``iface`` while Wake-on-LAN is on."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    while True:
        frame = sock.recv(65535)
        if frame_wakes(frame, mac):
            if no_wol.exists():
                print(f"relais-lab-power: magic packet for {mac} ignored (Wake-on-LAN off)",
                      flush=True)
                continue
            print(f"relais-lab-power: magic packet for {mac}", flush=True)
            return 0


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _wait_for_wake(args: argparse.Namespace) -> bool:
    """Off: wait for a magic packet (True) or for the lab to go away (False)."""
    if not args.mac:
        while _netns_exists(args.netns):
            time.sleep(1)
        return False
    no_wol = Path(args.state_dir) / f"{args.host}.no-wol"
    # the supply runs under `exec -a` (its argv[0] names it): Python cannot find itself from
    # that name and leaves sys.executable empty; /proc/self/exe is the interpreter
    python = sys.executable or str(Path("/proc/self/exe").resolve())
    listener = subprocess.Popen(
        ["ip", "netns", "exec", args.site_netns, python, "-I", str(Path(__file__).resolve()),
         "listen", "--iface", "brm", "--mac", args.mac, "--no-wol", str(no_wol)],
        stdin=subprocess.DEVNULL)
    try:
        while True:
            try:
                rc = listener.wait(timeout=1)
            except subprocess.TimeoutExpired:
                if not _netns_exists(args.netns):
                    return False
                continue
            return rc == 0 and _netns_exists(args.netns)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()


def _supply(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    boots = int(power_state(state_dir, args.host).get("boots", 0))
    while True:
        child = subprocess.Popen(args.nspawn, stdin=subprocess.DEVNULL)
        boots += 1
        _write_state(state_dir, args.host, power="on", boots=boots, pid=child.pid)
        rc = child.wait()
        if rc == REBOOT_STATUS:
            _write_state(state_dir, args.host, power="rebooting")
            continue
        if rc != 0:
            _write_state(state_dir, args.host, power="gone", status=rc)
            return 0
        _write_state(state_dir, args.host, power="off")
        print(f"relais-lab-power: {args.host} powered off", flush=True)
        if not _wait_for_wake(args):
            _write_state(state_dir, args.host, power="gone")
            return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relais-lab-power", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_supply = sub.add_parser("supply", help="run a lab host's container under a power supply")
    p_supply.add_argument("--host", required=True)
    p_supply.add_argument("--netns", required=True)
    p_supply.add_argument("--site-netns", required=True)
    p_supply.add_argument("--state-dir", required=True)
    p_supply.add_argument("--mac")
    p_supply.add_argument("nspawn", nargs=argparse.REMAINDER)
    p_listen = sub.add_parser("listen", help="wait for a magic packet (in the site namespace)")
    p_listen.add_argument("--iface", default="brm")
    p_listen.add_argument("--mac", required=True)
    p_listen.add_argument("--no-wol", required=True)
    args = parser.parse_args(argv)
    if args.command == "listen":
        with contextlib.suppress(KeyboardInterrupt):
            return _listen(args.iface, args.mac.lower(), Path(args.no_wol))
        return 1
    if args.nspawn[:1] == ["--"]:
        args.nspawn = args.nspawn[1:]
    if not args.nspawn:
        parser.error("supply: the nspawn command line is missing (after --)")
    return _supply(args)


if __name__ == "__main__":
    raise SystemExit(main())
