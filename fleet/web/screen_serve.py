"""The controller's web server for the lab tests: the /screen/SITE router (the one `fleet web`
mounts) with an injected clock, every request logged as a JSON line (client, path, status).

    python tests/public/screen_server.py --host H --port P --db URL --clock ISO --cache DIR
                                         --log FILE --inventory DIR

Prints ``ready`` once it listens."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response

from fleet.inventory import load_inventory
from fleet.store import open_store
from fleet.web.screen import RateLimit, screen_router


def main() -> None:
    parser = argparse.ArgumentParser()
    for opt in ("--host", "--db", "--clock", "--cache", "--log", "--inventory"):
        parser.add_argument(opt, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    at = datetime.fromisoformat(args.clock)
    inventory = load_inventory(Path(args.inventory))
    store = open_store(args.db)
    app = FastAPI()
    log = Path(args.log).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115  (the process's life)

    @app.middleware("http")
    async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        client = request.client.host if request.client else "?"
        log.write(json.dumps({"client": client, "path": str(request.url.path),
                              "query": request.url.query, "status": response.status_code}) + "\n")
        return response

    app.include_router(screen_router(inventory, store, clock=lambda: at, agenda_cache=Path(args.cache),
                                     rate=RateLimit(per_minute=600, burst=100)))
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((args.host, args.port)) == 0:
                break
        time.sleep(0.1)
    print("ready", flush=True)
    thread.join()


if __name__ == "__main__":
    main()
