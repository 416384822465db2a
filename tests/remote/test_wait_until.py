"""The boot wait's probes: short ones while a host is still down, a full one every third try
(a host that is not up costs a probe its whole timeout; a slow link still gets its time)."""

from __future__ import annotations

from collections.abc import Sequence

from fleet.remote.base import Target, wait_until

PC = Target("florac-fs-pc1", "10.48.12.11")
BORNE = Target("florac-fs-borne1", "10.48.12.21")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_host_that_boots_is_seen_on_a_short_probe_and_a_slow_one_on_a_full_one() -> None:
    clock = Clock()
    asked: list[tuple[list[str], float]] = []

    def prober(targets: Sequence[Target], timeout: float) -> dict[str, str | None]:
        asked.append(([t.hostname for t in targets], timeout))
        clock.now += timeout  # a host that does not answer costs the whole timeout
        seen: dict[str, str | None] = {}
        if len(asked) >= 2:
            seen[PC.hostname] = "boot-pc"  # up from the second probe on
        if timeout >= 8.0:
            seen[BORNE.hostname] = "boot-borne"  # answers, but slower than a short probe
        return seen

    last = wait_until([PC, BORNE], lambda _h, b: b is not None, deadline=120.0, clock=clock,
                      sleep=clock.sleep, prober=prober)
    assert last == {PC.hostname: "boot-pc", BORNE.hostname: "boot-borne"}
    assert asked == [([PC.hostname, BORNE.hostname], 3.0), ([PC.hostname, BORNE.hostname], 3.0),
                     ([BORNE.hostname], 8.0)]


def test_a_host_that_never_answers_is_given_up_at_the_deadline() -> None:
    clock = Clock()
    timeouts: list[float] = []

    def prober(targets: Sequence[Target], timeout: float) -> dict[str, str | None]:
        timeouts.append(timeout)
        clock.now += timeout
        return {}

    last = wait_until([PC], lambda _h, b: b is not None, deadline=60.0, clock=clock,
                      sleep=clock.sleep, prober=prober)
    assert last == {PC.hostname: None}
    assert clock.now >= 60.0 and timeouts[:6] == [3.0, 3.0, 8.0, 3.0, 3.0, 8.0]
