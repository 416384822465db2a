"""The gateway check's judgement of the lists (fleet/checks/test_gateway.py): size for the
profile, age, never sample lists outside the lab (issue 9.7).  The check itself runs on the
lab gateways in test_lab_gateway.py."""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.checks.test_gateway import MAX_AGE_DAYS, MIN_BLOCKED, lists_problems

NOW = datetime(2026, 11, 30, tzinfo=UTC)
REAL = {"sample": False, "source": "/srv/blacklists.tar.gz", "loaded_at": "2026-11-29T08:00:00Z",
        "lists_date": "2026-11-28T03:00:00Z"}


def test_real_fresh_lists_of_real_size_pass() -> None:
    assert lists_problems(REAL, MIN_BLOCKED["pmi"], "pmi", NOW) == []
    assert lists_problems(REAL, MIN_BLOCKED["standard"], "standard", NOW) == []


def test_too_few_names_for_the_profile() -> None:
    problems = lists_problems(REAL, MIN_BLOCKED["standard"], "pmi", NOW)
    assert len(problems) == 1 and "for profile pmi" in problems[0]


def test_stale_or_undated_lists() -> None:
    old = {**REAL, "lists_date": "2026-09-01T00:00:00Z"}
    problems = lists_problems(old, 10**6, "pmi", NOW)
    assert len(problems) == 1 and "90 days old" in problems[0]
    assert f"at most {MAX_AGE_DAYS}" in problems[0]
    undated = {**REAL, "lists_date": None, "loaded_at": None}
    assert "date is unknown" in lists_problems(undated, 10**6, "pmi", NOW)[0]
    # the lists' own date counts, not when they were loaded
    reloaded = {**old, "loaded_at": "2026-11-29T00:00:00Z"}
    assert lists_problems(reloaded, 10**6, "pmi", NOW) != []


def test_sample_lists_are_a_problem_outside_the_lab() -> None:
    sample = {**REAL, "sample": True, "source": "blocklists/sample"}
    assert "sample lists" in lists_problems(sample, 10**6, "standard", NOW)[0]
