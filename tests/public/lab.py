"""Lab helpers of the public-facing tests (issue 17): one deployed ``noumea-ps`` for the whole
session, Playwright driving Debian's Chromium *inside* a lab host under its deployed policies,
and two stand-ins in the fake internet (the lab's "internet"):

* an HTTPS server answering for every name (the procedure sites, the visio origin): the fake
  internet only speaks plain HTTP, and camera access needs a secure origin;
* the controller's web server (``/screen/SITE``), reached by the hall screen at
  ``relais.example.org:8080`` as a real screen reaches the controller over the internet.

Chromium inside a host: the wrapper enters the host's namespaces (``fleet lab exec``'s
``nsenter``), bind-mounts a copy of the deployed managed policies over
``/etc/chromium/policies/managed`` in a private mount namespace, minus the two entries that
forbid automation itself (``DeveloperToolsAvailability`` and the ``chrome://*`` block, as
tests/roles does), and runs Chromium as the given account.  Every other policy — the URL
allowlist, the camera and microphone rules — is the deployed one.  Playwright talks to it over
the pipe it inherits (``--remote-debugging-pipe``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.lab import exec_argv
from fleet.lab.pytest_plugin import LabSite
from tests.public.conftest import REPO

SITE = "noumea-ps"
BORNE = "noumea-ps-borne1"
VISIO = "noumea-ps-borne2"
SCREEN = "noumea-ps-screen1"
PRINTER = "noumea-ps-prn1"
INET = "noumea-ps-inet"
FAKENET_IP = "198.18.0.1"

VARIANT = r"""
import json, pathlib, sys
src, dst, drop_media = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3] == "1"
dst.mkdir(parents=True, exist_ok=True)
for f in sorted(src.glob("*.json")):
    p = json.loads(f.read_text())
    p.pop("DeveloperToolsAvailability", None)
    if "URLBlocklist" in p:
        p["URLBlocklist"] = [u for u in p["URLBlocklist"] if u != "chrome://*"]
    if drop_media:
        for k in ("VideoCaptureAllowed", "AudioCaptureAllowed", "VideoCaptureAllowedUrls",
                  "AudioCaptureAllowedUrls"):
            p.pop(k, None)
    (dst / f.name).write_text(json.dumps(p))
"""


def run(site: LabSite, host: str, script: str, timeout: float = 120) -> str:
    done = site.exec(host, "sh", "-c", script, timeout=timeout)
    assert done.returncode == 0, f"{host}: {script}\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def chromium_wrapper(site: LabSite, host: str, user: str, tmp: Path, *, drop_media: bool = False) -> Path:
    """An executable that runs Chromium as ``user`` on ``host`` under the deployed policies
    (automation variant; ``drop_media``: also without the camera/microphone rules, a control)."""
    variant = f"/run/relais-proof-{user}-{int(drop_media)}"
    run(site, host, f"python3 -c {shlex.quote(VARIANT)} /etc/chromium/policies/managed {variant} "
                    f"{int(drop_media)} && chmod -R a+rX {variant}")
    home = f"/tmp/relais-proof-home-{user}"
    # a fresh home, and the profile Playwright names (made on this machine, not in the host)
    # moved into it: the account must own its profile
    inner = (f"rm -rf {home} && mkdir -p {home} && chown {user} {home} && "
             f"mount --bind {variant} /etc/chromium/policies/managed && "
             'for a do shift; case "$a" in --user-data-dir=*) '
             f'set -- "$@" "--user-data-dir={home}/profile" ;; *) set -- "$@" "$a" ;; esac; done && '
             f"exec setpriv --reuid={user} --regid={user} --init-groups "
             f"env HOME={home} chromium \"$@\"")
    argv = exec_argv(site.lab, host, ["unshare", "-m", "sh", "-c", inner, "chromium"])
    wrapper = tmp / f"chromium-{host}-{user}-{int(drop_media)}"
    wrapper.write_text("#!/bin/sh\nexec " + shlex.join(argv) + ' "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper


@contextmanager
def chromium_in(site: LabSite, host: str, user: str, tmp: Path, *, drop_media: bool = False,
                args: tuple[str, ...] = ()) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    wrapper = chromium_wrapper(site, host, user, tmp, drop_media=drop_media)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(wrapper), timeout=90_000,
                                     args=["--no-sandbox", "--disable-gpu", *args])
        try:
            yield browser
        finally:
            browser.close()


# --- stand-ins in the fake internet ------------------------------------------------------------
HTTPS_SERVER = r"""
import http.server, json, ssl, sys, threading
log = open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        log.write(json.dumps({"host": host, "path": self.path, "client": self.client_address[0]}) + "\n")
        body = ("<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>" + host +
                "</title></head><body><h1>https stand-in " + host + "</h1></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("198.18.0.1", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
"""


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relais lab https stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("*.fr"), x509.DNSName("*.gouv.fr"), x509.DNSName("*.nc"),
                x509.DNSName("*.caf.nc"), x509.IPAddress(ipaddress.IPv4Address(FAKENET_IP))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp / "standin.crt", tmp / "standin.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


@dataclass
class Standin:
    proc: subprocess.Popen[str]
    log: Path

    def requests(self) -> list[dict[str, str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def netns_of(site: LabSite, node: str) -> str:
    return site.plan.node(node).netns


def start_https_standin(site: LabSite, tmp: Path) -> Standin:
    cert, key = self_signed(tmp)
    log = tmp / "https-standin.jsonl"
    script = tmp / "https_standin.py"
    script.write_text(HTTPS_SERVER, encoding="utf-8")
    proc = subprocess.Popen(["ip", "netns", "exec", netns_of(site, INET), sys.executable,
                             str(script), str(cert), str(key), str(log)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return Standin(proc, log)


def start_screen_server(site: LabSite, tmp: Path, db: str, at: dt.datetime) -> Standin:
    log = tmp / "screen-access.jsonl"
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns_of(site, INET), sys.executable, "-m", "fleet.web.screen_serve",
         "--host", FAKENET_IP, "--port", "8080", "--db", db, "--clock", at.isoformat(),
         "--cache", str(tmp / "agenda"), "--log", str(log), "--inventory", str(REPO / "inventory")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "ready", line
    return Standin(proc, log)


def wait_for(what: str, probe: Any, timeout: float = 90, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")
