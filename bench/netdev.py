"""netdev benchmark: back up N switches in parallel with `fleet.netdev` vs a sequential netmiko
loop over the same switches, in the same run.

The switches are N instances of the lab's IOS simulator (fake-switches with Relais's additions,
fleet/lab/switchsim.py) on this machine's loopback, each first configured with florac-fs's
intended network (not timed), so every backup reads a realistic running configuration.

Measured: devices per second.
  - fleet: `fleet.netdev.engine.backup` over the N switches (threads; read, normalise, mask,
    store a version in a SQLite store).
  - peer: the loop a script would write: for each switch, netmiko ConnectHandler (same options:
    cisco_ios, fast_cli off, host key checked), enable, `show running-config`, disconnect —
    nothing stored.
  - also shown: the same fleet backup with one worker (sequential), which separates what
    parallelism buys from what fleet's own reading saves (it waits for the prompt at the end of
    the output instead of netmiko's default prompt search).
No absolute target: the ratios are the result.

Runs on the loopback (no namespace), but takes the lab's CPU like a lab run; run it alone:

    flock /tmp/relais-lab.lock .venv/bin/python bench/netdev.py [--switches 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleet import settings  # noqa: E402
from fleet.inventory import load_inventory  # noqa: E402
from fleet.lab.paths import LabPaths  # noqa: E402
from fleet.lab.switchsim import start_simulators  # noqa: E402
from fleet.netdev.engine import Context, Target, apply, backup, endpoint_of  # noqa: E402
from fleet.netdev.transport import HostKeys, Timeouts  # noqa: E402
from fleet.store import open_store  # noqa: E402

SITE = "florac-fs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--switches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.switches

    inv = load_inventory(REPO / "inventory")
    net = inv.site(SITE).network
    assert net is not None
    model = net.gear[0]
    names = [f"bench-sw{i}" for i in range(1, n + 1)]
    gear = [model.model_copy(update={"hostname": name, "host": IPv4Address(f"127.0.1.{i}")})
            for i, name in enumerate(names, 1)]
    targets = [Target(net, g) for g in gear]
    user, password = model.username, model.password.get_secret_value()

    paths = LabPaths(Path(settings.get("lab_root")))
    with tempfile.TemporaryDirectory(prefix="relais-bench-netdev-") as tmp, \
            start_simulators(paths, n, username=user, password=password, names=names,
                             host_key=Path(tmp) / "switchsim_ed25519") as sims:
        port_of = {str(g.host): port for g, port in zip(gear, sims.ports, strict=True)}
        # host keys are checked (netdev always, the peer too): by the switches' addresses
        # (fleet) and by the simulators' own (the peer's loop connects to them)
        known_hosts = Path(tmp) / "known_hosts"
        known_hosts.write_text(sims.known_hosts([str(g.host) for g in gear]) + sims.known_hosts(),
                               "utf-8")
        host_keys = HostKeys(known_hosts=known_hosts)

        def connect(host: str, _port: int, timeout: float) -> socket.socket:
            return socket.create_connection((sims.host, port_of[host]), timeout=timeout)

        store = open_store(f"sqlite:///{tmp}/fleet.sqlite")
        ctx = Context(store=store, connector=connect, timeouts=Timeouts(), host_keys=host_keys,
                      workers=n)
        t0 = time.monotonic()
        results = apply(targets, ctx)
        bad = [r for r in results if r.status != "applied"]
        if bad:
            sys.exit(f"setup failed: {bad[0].hostname}: {bad[0].message}")
        print(f"{n} simulators configured with {SITE}'s intent in {time.monotonic() - t0:.1f} s "
              f"({results[0].total} lines each)")

        def fleet_round(workers: int = n) -> float:
            t = time.monotonic()
            out = backup(targets, Context(store=store, connector=connect, host_keys=host_keys,
                                          workers=workers))
            elapsed = time.monotonic() - t
            failed = [r for r in out if r.status == "failed"]
            if failed:
                sys.exit(f"fleet backup failed: {failed[0].message}")
            return elapsed

        def peer_round() -> float:
            from netmiko import ConnectHandler

            t = time.monotonic()
            for g in gear:
                ep = endpoint_of(g)
                conn = ConnectHandler(device_type="cisco_ios", host=sims.host, port=port_of[ep.host],
                                      username=ep.username, password=ep.password, secret=ep.secret,
                                      fast_cli=False, allow_agent=False, use_keys=False,
                                      ssh_strict=True, alt_host_keys=True,
                                      alt_key_file=str(known_hosts))
                conn.enable()
                text = conn.send_command("show running-config")
                conn.disconnect()
                if "hostname" not in text:
                    sys.exit(f"peer read nothing from {g.hostname}")
            return time.monotonic() - t

        fleet_round()  # warm-up: first connections, first version stored
        peer_round()
        fleet_times, seq_times, peer_times = [], [], []
        for _ in range(args.rounds):
            fleet_times.append(fleet_round())
            seq_times.append(fleet_round(1))
            peer_times.append(peer_round())
        store.dispose()

    def line(label: str, times: list[float]) -> float:
        med = statistics.median(times)
        print(f"{label:<46} {n / med:6.2f} devices/s (median of {args.rounds}: {med:.2f} s; "
              f"rounds {', '.join(f'{x:.2f}' for x in times)})")
        return med

    f = line(f"fleet netdev backup, {n} switches in parallel:", fleet_times)
    s = line("fleet netdev backup, one worker:", seq_times)
    p = line("peer, sequential netmiko loop:", peer_times)
    print(f"ratio fleet/peer: {p / f:.2f}x  (parallel/one worker: {s / f:.2f}x)")


if __name__ == "__main__":
    main()
