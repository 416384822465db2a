"""Listings that read well at 80 columns, at 200, and piped into grep.

One rule for every table of the CLI: identifiers (site ids, hostnames, incident numbers) are
never truncated nor folded; when every column fits the terminal at its natural width the rows
are a plain aligned table; otherwise (narrow terminal, or output piped: no width) each row is
one line of its identifiers and short values, and the long text goes to an indented detail line
below it, folded at word boundaries to the terminal's width (not folded when piped, so one
``grep`` finds the whole line).

The width is ``COLUMNS`` when set, else the terminal's; piped output without ``COLUMNS`` has no
width.  Cells are :class:`rich.text.Text` (styled, never parsed as markup): text from the store
or the inventory is shown as it is.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.text import Text

from fleet.i18n import gettext as _

Kind = Literal["id", "short", "num", "text"]
Cell = str | Text


@dataclass(frozen=True, slots=True)
class Column:
    """``id``: an identifier (never cut); ``short``: a few words kept on the row; ``num``: a
    right-aligned number; ``text``: free text, moved to the detail line when the row is too wide."""

    header: str
    kind: Kind = "short"


def terminal_width() -> int | None:
    """``COLUMNS`` if set, else the terminal's width; ``None`` when the output is piped."""
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def make_console(stderr: bool = False) -> Console:
    """The console every command prints through (colour only on a terminal; NO_COLOR and the
    ``color`` setting turn it off)."""
    from fleet import settings

    width = terminal_width()
    return Console(
        stderr=stderr, highlight=False, soft_wrap=True, width=width or 10_000,
        no_color=not settings.get("color"), emoji=False,
    )


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def fits(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None) -> bool:
    if width is None:
        return False
    widths = _widths(columns, rows)
    return sum(widths) + 2 * (len(widths) - 1) <= width


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[int]:
    return [
        max([Text(c.header).cell_len, *(_text(r[i]).cell_len for r in rows)])
        for i, c in enumerate(columns)
    ]


def _line(cells: Sequence[Text], widths: Sequence[int], columns: Sequence[Column]) -> Text:
    out = Text()
    last = len(cells) - 1
    for i, (cell, width, col) in enumerate(zip(cells, widths, columns, strict=True)):
        pad = " " * (width - cell.cell_len)
        if col.kind == "num":
            out.append(pad)
            out.append_text(cell)
        else:
            out.append_text(cell)
            if i != last:
                out.append(pad)
        if i != last:
            out.append("  ")
    out.rstrip()
    return out


def table(
    out: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    width: int | None = None,
    header: bool = True,
) -> None:
    """Print rows as an aligned table when they fit ``width``; else the compact layout."""
    cells = [[_text(c) for c in r] for r in rows]
    if fits(columns, cells, width):
        widths = _widths(columns, cells)
        if header:
            out.print(_line([Text(c.header, style="bold") for c in columns], widths, columns))
        for row in cells:
            out.print(_line(row, widths, columns))
        return
    compact(out, columns, cells, width=width, header=header)


def compact(
    out: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Text]],
    *,
    width: int | None,
    header: bool = True,
) -> None:
    """One line per row with the identifiers and short values (the text columns on an indented
    detail line, labelled with their header)."""
    keep = [i for i, c in enumerate(columns) if c.kind != "text"]
    moved = [i for i, c in enumerate(columns) if c.kind == "text"]
    head = [columns[i] for i in keep]
    lines = [[r[i] for i in keep] for r in rows]
    widths = _widths(head, lines)
    if width is not None:
        # short columns that would push the line past the width move to the detail line too,
        # the widest first (identifiers always stay on the line)
        while sum(widths) + 2 * (len(widths) - 1) > width:
            movable = [i for i, k in enumerate(keep) if columns[k].kind != "id"]
            if not movable:
                break
            widest = max(movable, key=lambda i: widths[i])
            moved.append(keep.pop(widest))
            head = [columns[i] for i in keep]
            lines = [[r[i] for i in keep] for r in rows]
            widths = _widths(head, lines)
    if header:
        out.print(_line([Text(c.header, style="bold") for c in head], widths, head))
    for row, line in zip(rows, lines, strict=True):
        out.print(_line(line, widths, head))
        detail = Text(" · ").join(
            Text.assemble((_("{label}:").format(label=columns[i].header) + " ", "dim"), row[i])
            for i in sorted(moved) if row[i].plain
        )
        if detail.plain:
            paragraph(out, detail, width=width, indent=4)


def paragraph(out: Console, text: Cell, *, width: int | None, indent: int = 0) -> None:
    """Free text folded at word boundaries to the width (one line when piped)."""
    body = _text(text)
    if width is None:
        out.print(Text(" " * indent) + body)
        return
    lines = body.wrap(out, max(20, width - indent))
    for line in lines:
        out.print(Text(" " * indent) + line)
