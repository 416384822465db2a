"""The hall screens' page alone, ``/screen/SITE`` (the router ``fleet web`` mounts), served where
the lab's screens reach the controller: in the lab's fake internet, at the address the
hall_screen role gives them (``relais.example.org:8080``), as a real screen reaches ``fleet web``
over the internet.  ``fleet demo`` and the lab tests (tests/public) run it; in production the
screens reach ``fleet web`` itself.

    python -m fleet.web.screen_serve --host H --port P --db URL --inventory DIR --cache DIR
                                     --log FILE (--clock ISO | --clock-file FILE)

``--clock`` is a fixed instant; ``--clock-file`` is read at each request (the demo's day moves
it on), the real clock while it is missing or unreadable.  Every request is logged as a JSON
line (client, path, query, status).  Prints ``ready`` once it listens."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response

from fleet.inventory import load_inventory
from fleet.store import open_store
from fleet.web.screen import RateLimit, screen_router


def file_clock(path: Path) -> Callable[[], datetime]:
    """The instant written in ``path`` (ISO 8601, with its offset), or the real clock."""

    def now() -> datetime:
        try:
            at = datetime.fromisoformat(path.read_text("utf-8").strip())
        except (OSError, ValueError):
            return datetime.now(UTC)
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

    return now


def main() -> None:
    parser = argparse.ArgumentParser()
    for opt in ("--host", "--db", "--cache", "--log", "--inventory"):
        parser.add_argument(opt, required=True)
    parser.add_argument("--port", type=int, required=True)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--clock", type=datetime.fromisoformat)
    when.add_argument("--clock-file", type=Path)
    args = parser.parse_args()
    clock = (lambda: args.clock) if args.clock is not None else file_clock(args.clock_file)
    inventory = load_inventory(Path(args.inventory))
    store = open_store(args.db)
    app = FastAPI()
    log = Path(args.log).open("a", buffering=1, encoding="utf-8")  # noqa: SIM115  (the process's life)

    @app.middleware("http")
    async def record(request: Request,
                     call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response: Response = await call_next(request)
        client = request.client.host if request.client else "?"
        log.write(json.dumps({"client": client, "path": str(request.url.path),
                              "query": request.url.query, "status": response.status_code}) + "\n")
        return response

    app.include_router(screen_router(inventory, store, clock=clock, agenda_cache=Path(args.cache),
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
