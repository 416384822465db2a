"""One word per code for every face (fleet/words.py): the CLI's tables, the dashboard and the SAV
hand-off name a state, a kind, a status or a check's reason the same way, and every reason the
engine can write has a word (the hotline never reads ``no_answer``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from fleet.errors import SnmpReason
from fleet.handoff.content import Context, facts
from fleet.i18n import use_language
from fleet.incidents.lifecycle import IncidentView
from fleet.inventory.models import DeviceKind
from fleet.monitor.rules_file import load_rules
from fleet.web.labels import label
from fleet.words import SEVERITIES, WORDS, word
from tests.handoff.samples import BORNE, SITE_ID, inventory

RULES = Path(__file__).resolve().parents[1] / "monitoring" / "rules.yml"
ENGINE_REASONS = ("no_answer", "parent_down", "bad_reply", "flapping", "not_back_at_opening",
                  "over_threshold", "under_threshold")
"""The reasons fleet/monitor/rules.py writes itself (the others: SNMP's, and rules.yml's)."""


def reasons_the_engine_writes() -> set[str]:
    rules = load_rules(RULES)
    return ({*ENGINE_REASONS, *get_args(SnmpReason)}
            | {r.fail_reason for r in rules.rules})


def test_every_reason_has_a_word_in_both_languages() -> None:
    reasons = reasons_the_engine_writes()
    assert {"low_toner", "jammed", "auth_error", "no_answer"} <= reasons  # the set is read, not empty
    for lang in ("fr", "en"):
        with use_language(lang):
            missing = sorted(r for r in reasons if word("reason", r) == r)
            assert missing == [], f"{lang}: reasons without a word in fleet/words.py: {missing}"
    with use_language("fr"):
        assert word("reason", "no_answer") == "ne répond pas"
        # positive control: an unknown code is shown as it is (what the check above catches)
        assert word("reason", "a_rule_of_its_own") == "a_rule_of_its_own"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_dashboard_and_the_cli_say_the_same_word(lang: str) -> None:
    codes = {"kind": [k.value for k in DeviceKind], "severity": list(SEVERITIES),
             "status": ["open", "acknowledged", "in_progress", "resolved", "closed"],
             "state": ["up", "down", "degraded", "unknown", "stale"],
             "summary": ["ok", "incident", "watch", "expected", "unknown", "stale"]}
    with use_language(lang):
        for group, values in codes.items():
            for code in values:
                assert code in WORDS[group], (group, code)
                assert label(group, code) == word(group, code), (group, code)
        for group, table in WORDS.items():
            for code in table:
                assert label(group, code) == word(group, code), (group, code)


def test_the_hand_off_uses_the_same_words_in_french_whatever_the_run() -> None:
    at = datetime(2026, 11, 23, 9, 47, tzinfo=UTC)
    inc = IncidentView(1, BORNE, SITE_ID, "reachability", "open", "no_answer", "major",
                       f"{BORNE} ne répond pas", False, at, at, None, None, None, None, None, None)
    ctx = Context.of(inventory(), inc)
    assert ctx.device is not None and ctx.device.kind is DeviceKind.BORNE
    with use_language("en"):  # an English run still hands off in French
        rows = dict(facts(inc, ctx))
    with use_language("fr"):
        assert word("kind", "borne") in rows["Équipement"]
        assert rows["Contrôle"] == f"reachability (raison : {word('reason', 'no_answer')})"
    assert rows["Contrôle"] == "reachability (raison : ne répond pas)"
