"""The network map: sites drawn as SVG from their coordinates, no tile server.

Metropolitan France is drawn with a rough outline (a few dozen points, enough to recognise
the country, not to navigate); sites elsewhere (Nouméa, the overseas departments) are drawn in
insets below it, one per group of nearby sites, as French maps do.  Equirectangular projection
scaled by the cosine of the latitude: at this size nothing more is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: lon, lat of a rough outline of metropolitan France and Corsica (clockwise from Dunkirk).
OUTLINE = (
    (2.55, 51.09), (3.2, 50.75), (4.0, 50.35), (4.8, 50.15), (4.95, 49.8), (5.8, 49.55),
    (6.4, 49.47), (7.0, 49.15), (8.0, 49.05), (8.23, 48.97), (7.8, 48.58), (7.6, 47.6),
    (7.0, 47.45), (6.45, 46.95), (6.1, 46.45), (6.1, 46.2), (6.8, 46.4), (6.95, 45.85),
    (7.15, 45.25), (6.65, 45.0), (7.0, 44.2), (7.5, 43.78), (7.25, 43.7), (6.95, 43.5),
    (6.65, 43.25), (5.95, 43.1), (5.35, 43.3), (4.6, 43.35), (3.7, 43.4), (3.05, 42.95),
    (3.17, 42.44), (2.6, 42.35), (1.7, 42.5), (0.7, 42.7), (-0.3, 42.8), (-1.4, 43.05),
    (-1.78, 43.37), (-1.56, 43.48), (-1.25, 44.4), (-1.25, 44.65), (-1.1, 45.55), (-1.2, 46.15),
    (-1.8, 46.5), (-2.2, 47.2), (-3.0, 47.5), (-3.4, 47.7), (-4.35, 47.8), (-4.75, 48.35),
    (-4.0, 48.7), (-3.0, 48.8), (-2.0, 48.65), (-1.5, 48.65), (-1.6, 49.2), (-1.6, 49.65),
    (-1.25, 49.7), (-1.1, 49.35), (-0.3, 49.3), (0.1, 49.5), (1.1, 49.93), (1.6, 50.2),
    (1.6, 50.7), (1.85, 50.95),
)  # fmt: skip
CORSICA = ((9.4, 43.0), (9.55, 42.6), (9.4, 41.6), (9.2, 41.37), (8.6, 41.7), (8.55, 42.35),
           (9.0, 42.7), (9.3, 42.95))  # fmt: skip
METRO = (-5.3, 41.2, 9.7, 51.2)  # lon min, lat min, lon max, lat max
WIDTH = 560
INSET = 130
ZOOM_W, ZOOM_H = 272, 230
ZOOM_MIN = 8
"""A département with at least this many sites packed in a small area gets a zoom panel."""
PAD = 12
MARKER = 6.0


@dataclass(frozen=True, slots=True)
class Point:
    """One site to draw."""

    id: str
    name: str
    lat: float
    lon: float
    css: str
    """The class that colours the marker (``st-critical``, ``st-ok``, ``st-expected``...)."""
    label: str
    """What the marker says in words (its tooltip and accessible name)."""
    group: str = ""
    """Sites of one group (the département: postcode's first two digits) may be zoomed on."""


@dataclass(frozen=True, slots=True)
class Marker:
    point: Point
    x: float
    y: float
    link: bool = True
    """False for the dots of a zoomed group on the main map (their links are in the zoom)."""


@dataclass(frozen=True, slots=True)
class Inset:
    x: float
    y: float
    w: float
    h: float
    title: str
    zoom: bool = False


@dataclass(frozen=True, slots=True)
class MapView:
    width: float
    height: float
    outline: str
    corsica: str
    markers: tuple[Marker, ...]
    insets: tuple[Inset, ...]
    marker_size: float
    zoom_area: tuple[float, float, float, float] | None = None
    """x, y, w, h of the zoomed area on the main map."""


def _in_metro(p: Point) -> bool:
    lo0, la0, lo1, la1 = METRO
    return lo0 <= p.lon <= lo1 and la0 <= p.lat <= la1


def _groups(points: Sequence[Point]) -> list[list[Point]]:
    """Sites outside the metropolitan box, grouped when within 6 degrees of each other."""
    groups: list[list[Point]] = []
    for p in sorted(points, key=lambda p: (p.lon, p.lat)):
        for g in groups:
            if abs(g[0].lat - p.lat) < 6 and abs(g[0].lon - p.lon) < 6:
                g.append(p)
                break
        else:
            groups.append([p])
    return groups


def build(points: Sequence[Point], titles: dict[str, str] | None = None) -> MapView:
    """Positions of every marker, the outline path and the insets."""
    lo0, la0, lo1, la1 = METRO
    k = math.cos(math.radians((la0 + la1) / 2))
    scale = (WIDTH - 2 * PAD) / ((lo1 - lo0) * k)
    main_h = (la1 - la0) * scale + 2 * PAD

    def project(lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - lo0) * k * scale, PAD + (la1 - lat) * scale

    def path(coords: Sequence[tuple[float, float]]) -> str:
        pts = [project(lon, lat) for lon, lat in coords]
        return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z"

    size = MARKER if len(points) < 400 else 3.5 if len(points) < 3000 else 2.2
    metro = [p for p in points if _in_metro(p)]
    elsewhere = [p for p in points if not _in_metro(p)]
    zoomed = _zoom_group(metro, scale * k, size)
    markers: list[Marker] = []
    for p in metro:
        x, y = project(p.lon, p.lat)
        markers.append(Marker(p, round(x, 1), round(y, 1), link=p.group != zoomed))
    insets: list[Inset] = []
    zoom_area = None
    top = main_h + PAD
    if zoomed is not None:
        group = [p for p in metro if p.group == zoomed]
        glo0, glo1 = min(p.lon for p in group) - 0.08, max(p.lon for p in group) + 0.08
        gla0, gla1 = min(p.lat for p in group) - 0.08, max(p.lat for p in group) + 0.08
        x0, y0 = project(glo0, gla1)
        x1, y1 = project(glo1, gla0)
        zoom_area = (round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))
        zx, zy = PAD, top
        gs = min((ZOOM_W - 2 * PAD) / ((glo1 - glo0) * k), (ZOOM_H - 2 * PAD - 14) / (gla1 - gla0))
        for p in group:
            x = zx + ZOOM_W / 2 + (p.lon - (glo0 + glo1) / 2) * k * gs
            y = zy + 14 + (ZOOM_H - 14) / 2 + ((gla0 + gla1) / 2 - p.lat) * gs
            markers.append(Marker(p, round(x, 1), round(y, 1)))
        insets.append(Inset(zx, zy, ZOOM_W, ZOOM_H, zoomed, zoom=True))
    left = PAD + (ZOOM_W + PAD if zoomed is not None else 0)
    groups = _groups(elsewhere)
    per_row = max(1, int((WIDTH - left) // (INSET + PAD)))
    for i, group in enumerate(groups):
        row, col = divmod(i, per_row)
        ix, iy = left + col * (INSET + PAD), top + row * (INSET + PAD + 14)
        glo0 = min(p.lon for p in group) - 0.5
        glo1 = max(p.lon for p in group) + 0.5
        gla0 = min(p.lat for p in group) - 0.5
        gla1 = max(p.lat for p in group) + 0.5
        gk = math.cos(math.radians((gla0 + gla1) / 2))
        gs = min((INSET - 2 * PAD) / ((glo1 - glo0) * gk), (INSET - 2 * PAD - 14) / (gla1 - gla0))
        for p in group:
            x = ix + INSET / 2 + (p.lon - (glo0 + glo1) / 2) * gk * gs
            y = iy + 14 + (INSET - 14) / 2 + ((gla0 + gla1) / 2 - p.lat) * gs
            markers.append(Marker(p, round(x, 1), round(y, 1)))
        title = (titles or {}).get(group[0].id, group[0].name)
        insets.append(Inset(ix, iy, INSET, INSET, title))
    rows = math.ceil(len(groups) / per_row) if groups else 0
    below = max(rows * (INSET + PAD + 14), ZOOM_H + PAD if zoomed is not None else 0)
    height = main_h + (below + PAD if below else 0)
    markers = _spread(markers, size)
    # the worst on top: drawn last
    order = {"st-critical": 6, "st-major": 5, "st-minor": 4, "st-info": 3, "st-watch": 2}
    markers.sort(key=lambda m: order.get(m.point.css, 0))
    return MapView(WIDTH, round(height, 1), path(OUTLINE), path(CORSICA), tuple(markers), tuple(insets), size,
                   zoom_area)  # fmt: skip


def _spread(markers: list[Marker], size: float) -> list[Marker]:
    """Sites at the same place (a France Services and the sous-préfecture of one town) would
    hide each other: the dots falling in one cell of a grid a dot and a half wide are set on a
    small circle around their centre, so every site can be seen and clicked (linear time: the
    national map has thousands of dots)."""
    cell = size * 1.5
    buckets: dict[tuple[bool, int, int], list[Marker]] = {}
    for m in markers:
        buckets.setdefault((m.link, int(m.x // cell), int(m.y // cell)), []).append(m)
    out: list[Marker] = []
    for group in buckets.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        cx = sum(m.x for m in group) / len(group)
        cy = sum(m.y for m in group) / len(group)
        radius = size * (1.2 + 0.25 * min(len(group), 8))
        for i, m in enumerate(group):
            angle = 2 * math.pi * i / len(group) - math.pi / 2
            out.append(Marker(m.point, round(cx + radius * math.cos(angle), 1),
                              round(cy + radius * math.sin(angle), 1), m.link))  # fmt: skip
    return out


def _zoom_group(points: Sequence[Point], px_per_degree: float, size: float) -> str | None:
    """The group whose sites are the most crowded on the main map, if crowded enough: at least
    :data:`ZOOM_MIN` sites within a box a tenth of the map wide."""
    groups: dict[str, list[Point]] = {}
    for p in points:
        if p.group:
            groups.setdefault(p.group, []).append(p)
    best, best_n = None, 0
    for name, members in groups.items():
        if len(members) < ZOOM_MIN:
            continue
        span = max(max(p.lon for p in members) - min(p.lon for p in members),
                   max(p.lat for p in members) - min(p.lat for p in members)) * px_per_degree  # fmt: skip
        if span < WIDTH / 10 + size * 4 and len(members) > best_n:
            best, best_n = name, len(members)
    return best
