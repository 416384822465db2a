from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_pages(client_as: Callable[[str], TestClient], world) -> None:
    c = client_as("hotline")
    for url in ["/", "/sites/florac-fs", "/devices/web-lab-prn1", "/devices/florac-fs-borne1", "/incidents",
                f"/incidents/{world.incidents['florac-fs-borne1/reachability']}", "/maintenance", "/search?q=noumea",
                "/?lang=en", "/sites/noumea-ps", "/metrics", "/healthz", "/api/status"]:
        r = c.get(url)
        assert r.status_code == 200, (url, r.text[:3000])
