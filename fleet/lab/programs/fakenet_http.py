#!/usr/bin/python3
"""Relais lab fake internet: serves /srv/www (the apt repository is under /debian); any other
path answers 200 with a small page naming the host asked for, like a reachable website.

Copied into the fake-internet host's root as ``/usr/local/bin/relais-fakenet-http`` by
:func:`fleet.lab.hostconf.prepare_host` and run there by Debian's python3 (standard library
only: this file runs outside the ``fleet`` package)."""

from __future__ import annotations

import http.server
import io
import os
import sys
from typing import Any, BinaryIO

ROOT = "/srv/www"


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=ROOT, **kwargs)

    def send_head(self) -> BinaryIO | None:
        path = self.translate_path(self.path)
        if self.path.startswith("/debian/") or os.path.isfile(path):  # noqa: PTH113 - stdlib server API
            return super().send_head()
        host = self.headers.get("Host", "?")
        body = (f"<html><body><h1>Relais lab fake internet</h1><p>{host}{self.path}</p>"
                "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    http.server.ThreadingHTTPServer(("", 80), Handler).serve_forever()


if __name__ == "__main__":
    main()
