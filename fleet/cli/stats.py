"""`fleet stats --from --to [--site] [--csv] [--json] [--chart FILE]`: funder indicators."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet.audit import charts
from fleet.audit.stats import compute, parse_day
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError
from fleet.inventory import load_inventory


def stats(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (sites' local dates).")],
    end: Annotated[str, typer.Option("--to", help="Last day, included, YYYY-MM-DD.")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only this site (repeatable).")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output (;-separated).")] = False,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also write the sessions-per-week chart (.png or .svg).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default: setting db_url).")] = None,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
) -> None:
    """Funder indicators over a period: sessions per site, week and station, people received
    and services per partner organisation, availability during opening hours, incidents."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if last < first:  # the arguments first, then the store
        raise ConfigError(f"--to {last}: must not be before --from {first}")
    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"--chart {str(chart)!r}: give a .png or .svg file name")
    inv = load_inventory(inventory)
    chosen = list(inv.sites)
    if site:
        known = {s.id for s in inv.sites}
        bad = [s for s in site if s not in known]
        if bad:
            raise ConfigError(f"--site {bad[0]!r}: no such site in {inv.root}")
        chosen = [s for s in inv.sites if s.id in site]
    with opened_store(db) as store:
        result = compute(store, chosen, first, last)
        if chart is not None:
            bars = result.chart()
            try:
                if chart.suffix.lower() == ".png":
                    chart.write_bytes(charts.png(bars))
                else:
                    chart.write_text(charts.svg(bars, 800), encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"--chart {str(chart)!r}: cannot write: {exc.strerror}") from exc
        if json:
            print_json(result.to_json())
            return
        if as_csv:
            sys.stdout.write(result.csv())
            return
        table = Table(
            "site",
            "sessions",
            "personnes reçues",
            "disponibilité (ouverture)",
            "incidents",
            title=f"du {first:%d/%m/%Y} au {last:%d/%m/%Y}",
            title_justify="left",
        )
        for s in result.sites:
            avail = "—" if s.availability is None else f"{s.availability:.2f} %"
            table.add_row(s.site_id, str(s.sessions), str(s.people), avail, str(s.incidents))
        out = console()
        out.print(table)
        out.print(
            f"{sum(s.sessions for s in result.sites)} sessions, "
            f"{sum(s.people for s in result.sites)} personnes reçues sur {len(result.sites)} site(s)"
            + (f"; graphique : {chart}" if chart else "")
        )


app = typer.Typer()
app.command("stats", help=((stats.__doc__ or "").split("\n\n")[0]))(stats)
