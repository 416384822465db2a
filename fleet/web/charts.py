"""Small SVG charts drawn server-side (no JavaScript, no chart library): a device's health
history on its page.  The template draws what :func:`line` and :func:`strip` compute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 320
HEIGHT = 90
LEFT = 36
BOTTOM = 16


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    unit: str
    path: str
    """SVG path data (empty: nothing to draw)."""
    last: float | None
    low: float
    high: float
    width: int
    height: int
    left: int
    bottom: int
    points: int
    summary: str
    """The chart in words, for screen readers (the last value, min and max)."""


@dataclass(frozen=True, slots=True)
class Band:
    x: float
    w: float
    ok: bool


@dataclass(frozen=True, slots=True)
class StripChart:
    bands: tuple[Band, ...]
    width: int
    up_share: float | None


def _x(at: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    return LEFT + (WIDTH - LEFT - 2) * (at - start).total_seconds() / span


def line(
    title: str, unit: str, series: Sequence[tuple[datetime, float]], start: datetime, end: datetime,
    *, low: float = 0.0, high: float | None = None, summary: str = "",
) -> LineChart:  # fmt: skip
    """A line of ``series`` over [start, end); ``high`` None: the series' maximum (at least 1)."""
    values = [v for _, v in series]
    top = high if high is not None else max([1.0, *values])
    plot_h = HEIGHT - BOTTOM - 4
    parts: list[str] = []
    gap = (end - start) / 60
    previous: datetime | None = None
    for at, value in series:
        x = _x(at, start, end)
        v = min(max(value, low), top)
        y = 4 + plot_h * (1 - (v - low) / ((top - low) or 1.0))
        cmd = "M" if previous is None or at - previous > gap else "L"
        parts.append(f"{cmd}{x:.1f},{y:.1f}")
        previous = at
    return LineChart(title, unit, " ".join(parts), values[-1] if values else None, low, top, WIDTH, HEIGHT,
                     LEFT, BOTTOM, len(values), summary)  # fmt: skip


def strip(samples: Sequence[tuple[datetime, bool]], start: datetime, end: datetime) -> StripChart:
    """Answered / did not answer, as coloured bands (consecutive equal samples merged)."""
    bands: list[Band] = []
    for i, (at, ok) in enumerate(samples):
        nxt = samples[i + 1][0] if i + 1 < len(samples) else end
        x0, x1 = _x(at, start, end), _x(min(nxt, end), start, end)
        if bands and bands[-1].ok == ok and abs(bands[-1].x + bands[-1].w - x0) < 0.01:
            bands[-1] = Band(bands[-1].x, x1 - bands[-1].x, ok)
        else:
            bands.append(Band(x0, max(x1 - x0, 0.5), ok))
    up = sum(1 for _, ok in samples if ok)
    return StripChart(tuple(bands), WIDTH, (100.0 * up / len(samples)) if samples else None)
