"""What the public sees (issue 17): the borne's start page, the end-of-session question before
each wipe, the hall screen, the camera rules of the kiosk.  Read-only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.checks.model import HostExpect, settled


@pytest.mark.ref("Relais public: borne start page")
@pytest.mark.kinds("borne")
def test_start_page_served_by_the_borne(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-startpage").is_enabled
    assert host.service("relais-startpage").is_running
    page = host.run("curl -fsS -m 5 http://127.0.0.1:8088/")
    assert page.rc == 0 and 'class="tile"' in page.stdout, page.stderr
    conf = json.loads(host.file("/etc/relais/startpage.json").content_string)
    assert conf["tiles"], "no tile on the start page"


@pytest.mark.ref("Relais public: end-of-session question")
@pytest.mark.kinds("public_pc", "borne")
def test_question_asked_before_the_wipe(host: Any, expect: HostExpect) -> None:
    hook = json.loads(host.file("/etc/relais/session-wipe.d/40-question.json").content_string)
    assert hook["question"][0] == "/usr/local/sbin/relais-question"
    question = json.loads(host.file("/etc/relais/question.json").content_string)
    # bounded: the wipe's limit covers the question's own wait, so it never blocks the wipe
    assert 0 < question["timeout"] < hook["question_timeout"] <= 120
    assert host.file("/usr/local/sbin/relais-question").mode == 0o755


@pytest.mark.ref("Relais public: camera and microphone")
@pytest.mark.kinds("borne")
def test_camera_only_for_the_visio_origins(host: Any, expect: HostExpect) -> None:
    policy = json.loads(host.file("/etc/chromium/policies/managed/relais-kiosk.json").content_string)
    assert policy["VideoCaptureAllowed"] is False and policy["AudioCaptureAllowed"] is False
    assert policy["ScreenCaptureAllowed"] is False
    allowed = policy["VideoCaptureAllowedUrls"]
    assert allowed == policy["AudioCaptureAllowedUrls"]
    assert all(o.startswith("https://") for o in allowed), allowed


@pytest.mark.ref("Relais public: hall screen")
@pytest.mark.kinds("screen")
def test_hall_screen_running_on_its_page_only(host: Any, expect: HostExpect) -> None:
    assert host.service("relais-screen").is_enabled and host.service("relais-screen").is_running
    for timer in ("relais-screen-watchdog.timer", "relais-screen-nightly.timer"):
        assert host.service(timer).is_enabled, timer
    policy = json.loads(host.file("/etc/chromium/policies/managed/relais-screen.json").content_string)
    assert policy["URLBlocklist"][0] == "*" and len(policy["URLAllowlist"]) == 1
    assert f"/screen/{expect.site_id}" in policy["URLAllowlist"][0]
    # restarted by the deploy's handlers a moment ago: give its browser time to come up
    settled("no Chromium on the screen",
            lambda: host.service("relais-screen").is_running
            and host.process.filter(user="relais-screen", comm="chromium"))
