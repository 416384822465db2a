"""Small bar charts for the report and ``fleet stats``: SVG (inline in HTML and PDF) and PNG.

One model (:class:`Bars`), two renderers: :func:`svg` writes the markup by hand (no plotting
library, a few kilobytes, crisp in the PDF); :func:`png` draws the same chart with Pillow
(WeasyPrint's own dependency) and the DejaVu font.  Labels arrive already translated.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from html import escape
from pathlib import Path

OK, WARN, BAD, BAR, INK, GRID = "#2e7d32", "#ef6c00", "#c62828", "#1565c0", "#222222", "#d0d0d0"
FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)


@dataclass(frozen=True, slots=True)
class Bars:
    """Labelled values; ``horizontal`` bars for per-device figures, vertical for time series."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    unit: str = ""
    maximum: float | None = None
    horizontal: bool = False
    thresholds: tuple[float, float] | None = None
    """(bad below, warn below): colours bars red / orange / green (availability)."""

    @property
    def top(self) -> float:
        if self.maximum is not None:
            return self.maximum
        return max([v for v in self.values if v is not None] + [1.0])

    def colour(self, value: float | None) -> str:
        if value is None:
            return GRID
        if self.thresholds is None:
            return BAR
        bad, warn = self.thresholds
        return BAD if value < bad else WARN if value < warn else OK


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}" if abs(value - round(value)) > 1e-9 else f"{value:.0f}"
    return text.replace(".", ",") + unit


def svg(chart: Bars, width: int = 640, *, show_title: bool = True) -> str:
    """The chart as an inline ``<svg>`` element (accessible: role=img with its title; the
    title is drawn too unless ``show_title`` is false, e.g. under a heading that says it)."""
    n = max(len(chart.labels), 1)
    out: list[str] = []
    if chart.horizontal:
        row, left, right, top = 22, 170.0, 70, 28 if show_title else 4
        height = top + n * row + 10
        scale = (width - left - right) / chart.top
        for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
            y: float = top + i * row
            w = 0.0 if value is None else max(value * scale, 1.0)
            out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
            out.append(
                f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" '
                f'fill="{chart.colour(value)}"/>'
            )
            out.append(f'<text x="{left + w + 5:.1f}" y="{y + 14}">{escape(_fmt(value, chart.unit))}</text>')
    else:
        left, bottom, top = 40.0, 34, 44 if show_title else 18
        height = 200
        plot_h = height - top - bottom
        slot = (width - left - 10) / n
        scale = plot_h / chart.top
        out.append(
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
            f'stroke="{INK}"/>'
        )
        for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
            x = left + i * slot + slot * 0.15
            h = 0.0 if value is None else value * scale
            y = height - bottom - h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{chart.colour(value)}"/>'
            )
            out.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{escape(_fmt(value, chart.unit))}</text>"
            )
            out.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}" '
        f'font-family="DejaVu Sans, sans-serif" font-size="11" fill="{INK}">'
        f"<title>{escape(chart.title)}</title>"
    )
    if show_title:
        head += f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(chart.title)}</text>'
    return head + "".join(out) + "</svg>"


def png(chart: Bars, width: int = 800) -> bytes:
    """The same chart as a PNG image (Pillow)."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = next((f for f in FONTS if f.is_file()), None)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    bold: ImageFont.FreeTypeFont | ImageFont.ImageFont
    if font_path is not None:
        font = ImageFont.truetype(str(font_path), 13)
        bold = ImageFont.truetype(str(font_path), 16)
    else:  # pragma: no cover - fonts-dejavu-core is a dependency (ci/apt-packages.txt)
        font = bold = ImageFont.load_default()
    n = max(len(chart.labels), 1)
    if chart.horizontal:
        row, left, right, top = 28, 220.0, 90, 40
        height = top + n * row + 14
    else:
        left, bottom, top = 50.0, 44, 40
        height = 300
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 6), chart.title, fill=INK, font=bold)
    if chart.horizontal:
        scale = (width - left - right) / chart.top
        for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
            y: float = top + i * row
            w = 0.0 if value is None else max(value * scale, 1.0)
            draw.text((left - 8, y + 6), label, fill=INK, font=font, anchor="ra")
            draw.rectangle((left, y + 4, left + w, y + row - 4), fill=chart.colour(value))
            draw.text((left + w + 6, y + 6), _fmt(value, chart.unit), fill=INK, font=font)
    else:
        plot_h = height - top - bottom
        slot = (width - left - 10) / n
        scale = plot_h / chart.top
        draw.line((left, height - bottom, width - 10, height - bottom), fill=INK)
        for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
            x = left + i * slot + slot * 0.15
            h = 0.0 if value is None else value * scale
            y = height - bottom - h
            draw.rectangle((x, y, x + slot * 0.7, height - bottom), fill=chart.colour(value))
            draw.text((x + slot * 0.35, y - 4), _fmt(value, chart.unit), fill=INK, font=font, anchor="md")
            draw.text((x + slot * 0.35, height - bottom + 8), label, fill=INK, font=font, anchor="ma")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
