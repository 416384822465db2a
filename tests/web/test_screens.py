"""Screenshots of the main pages in French and English, at desktop and phone widths, kept as
test artefacts (test-artifacts/web/) for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import Live, login
from tests.web.world import World

PAGES = {
    "overview": "/",
    "site": "/sites/florac-fs",
    "site-closed": "/sites/noumea-ps",
    "device": "/devices/web-lab-prn1",
    "device-actions": "/devices/florac-fs-borne1",  # the hotline's remote action forms
    "incidents": "/incidents?status=all",
    "maintenance": "/maintenance",
    "search": "/search?q=lozere",
}


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots(browser, live: Live, world: World, artifacts: Path, lang: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
    page = context.new_page()
    login(page, live, "hotline")
    pages = {**PAGES, "incident": f"/incidents/{world.incidents['florac-fs-borne1/reachability']}"}
    for name, path in pages.items():
        sep = "&" if "?" in path else "?"
        response = page.goto(f"{live.url}{path}{sep}lang={lang}")
        assert response is not None and response.status == 200, name
        assert page.locator("html").get_attribute("lang") == lang
        page.screenshot(path=str(artifacts / f"{name}-{lang}-{width}.png"), full_page=True)
    context.close()
