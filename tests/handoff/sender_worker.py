"""One sender pass in its own process, for the tests that kill a sender or run two at once.

    python -m tests.handoff.sender_worker --db URL --now ISO [--glpi URL --api v1|v2]
                                          [--smtp-port N --smtp-ca FILE]

The real :func:`fleet.handoff.run_once` on the test site's inventory, with a fixed clock."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from fleet.handoff import run_once
from fleet.store import open_store
from tests.handoff.samples import clock_at, config, glpi_config, inventory, smtp_config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--glpi")
    parser.add_argument("--api", default="v1")
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--smtp-ca")
    parser.add_argument("--owner")
    args = parser.parse_args(argv)
    cfg = config(
        glpi=glpi_config(args.glpi, args.api) if args.glpi else None,
        smtp=smtp_config(args.smtp_port, args.smtp_ca) if args.smtp_port else None,
    )
    store = open_store(args.db)
    print("ready", flush=True)
    report = run_once(
        store, cfg, inventory(), clock=clock_at(datetime.fromisoformat(args.now)), owner=args.owner
    )
    store.dispose()
    print(json.dumps(report.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
