"""Entry point of the `fleet` command.

Each area's commands live in their own module (a Typer app named ``app``); this module lists
them, one line each, and imports one only when it runs (or completes) that command: ``fleet
--help`` lists them from the table below without importing any, so it starts at once, whatever
the areas import (Ansible, pysnmp, SQLAlchemy...).  ``tests/cli/test_main.py`` checks it.

Before anything runs, the language is chosen (``--lang`` anywhere on the line, else
``FLEET_LANG``, else the locale; French by default) and ``--json`` is noted, so even a usage
error is reported in that language, or as JSON.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from fleet.cli.common import localize, report_error, run_command
from fleet.errors import ConfigError
from fleet.i18n import N_, resolve_language, use_language
from fleet.i18n import gettext as _


@dataclass(frozen=True, slots=True)
class Entry:
    """A sub-command: ``app`` (a Typer app) of ``module``; ``group``: its commands are
    sub-commands (``fleet snmp test``), else the app is the one command (``fleet poll``)."""

    name: str
    module: str
    help: str
    attr: str = "app"
    group: bool = True


COMMANDS: tuple[Entry, ...] = (
    Entry("demo", "fleet.cli.demo", N_("The main job end to end on one lab site: deploy, dashboard, "
                                       "a scripted day, the month's audit; 'down' ends it.")),
    Entry("inventory", "fleet.cli.inventory", N_("Validate, show and scaffold the inventory.")),
    Entry("lab", "fleet.cli.lab", N_("Rehearse a site on this machine with real hosts (needs root).")),
    Entry("deploy", "fleet.cli.deploy", N_("Provision and harden a site, record and verify the "
                                           "deploy."), "deploy_app", group=False),
    Entry("wipe", "fleet.cli.deploy", N_("Wipe the guest session now (RGPD) on one station or a "
                                         "whole site."), "wipe_app", group=False),
    Entry("poll", "fleet.cli.poll", N_("Poll the devices over SNMP, apply the health rules, open "
                                       "and resolve incidents."), group=False),
    Entry("status", "fleet.cli.status", N_("Is it up? Every site, one site's devices, or one "
                                           "device's checks."), group=False),
    Entry("incidents", "fleet.cli.incidents", N_("The incident log: list, show, acknowledge, "
                                                 "assign, annotate, resolve, close.")),
    Entry("maintenance", "fleet.cli.maintenance", N_("Maintenance windows: failures on a site or "
                                                     "device are expected meanwhile.")),
    Entry("snmp", "fleet.cli.snmp", N_("SNMP checks against inventory devices.")),
    Entry("portal", "fleet.cli.portal", N_("Public wifi: the legal connection log.")),
    Entry("blocklists", "fleet.cli.blocklists", N_("Public wifi: DNS blocklists.")),
    Entry("handoff", "fleet.cli.handoff", N_("Hand incidents to GLPI and the SAV supplier by "
                                             "e-mail: send, status, retry, skip.")),
    Entry("audit", "fleet.cli.audit", N_("Monthly audit: checks, availability, checklist, usage "
                                         "-> signed report.")),
    Entry("stats", "fleet.cli.stats", N_("Funder indicators over a period (counts, never "
                                         "identities)."), group=False),
    Entry("web", "fleet.cli.web", N_("Serve the hotline dashboard (browser)."), group=False),
    Entry("users", "fleet.cli.users", N_("Accounts of the hotline dashboard (fleet web).")),
    Entry("act", "fleet.cli.act", N_("Remote actions on a device or a site (restart the kiosk, "
                                     "wipe now, reboot, wake...), recorded."), "act_app", group=False),
    Entry("netdev", "fleet.cli.netdev", N_("Network gear (switches): backup, diff, apply, "
                                           "restore the configuration.")),
    Entry("agenda", "fleet.cli.agenda", N_("The sites' agendas (ICS) for the hall screens: "
                                           "refresh, show.")),
    Entry("power", "fleet.cli.power", N_("Power by opening hours: wake, schedule, report.")),
    Entry("diag", "fleet.cli.diag", N_("Collect a diagnostics bundle from a device (secrets "
                                       "masked)."), "diag_app", group=False),
)


class LazyGroup(TyperGroup):
    """The ``fleet`` group: builds a sub-command from its module only when it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [e.name for e in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = next((e for e in COMMANDS if e.name == cmd_name), None)
        if entry is None:
            return None
        if self.listing:  # `fleet --help`: one line per command, nothing imported
            return TyperCommand(entry.name, help=_(entry.help), rich_help_panel=_("Commands"))
        app = getattr(importlib.import_module(entry.module), entry.attr)
        command = typer.main.get_group(app) if entry.group else typer.main.get_command(app)
        command.name = entry.name
        _drop_completion_options(command)
        localize(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def _drop_completion_options(command: Any) -> None:
    """Completion is installed from ``fleet`` itself: sub-apps do not repeat its options."""
    command.params = [p for p in command.params
                      if p.name not in ("install_completion", "show_completion")]
    for sub in getattr(command, "commands", {}).values():
        _drop_completion_options(sub)


def _version(value: bool) -> None:
    if value:
        from fleet import __version__

        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option(
        "--version", help=N_("Show the version and exit."), is_eager=True, callback=_version)] = False,
    lang: Annotated[str | None, typer.Option(
        "--lang", metavar="fr|en",
        help=N_("Language of the messages (anywhere on the line): fr or en. Default: FLEET_LANG, "
                "else English for an English locale (LANG), else French."))] = None,
) -> None:
    """Relais: describe, rehearse, deploy, watch and audit public digital-access sites."""


def build() -> typer.Typer:
    """The ``fleet`` app (a fresh one: its help texts are translated when it is built)."""
    app = typer.Typer(
        cls=LazyGroup,
        name="fleet",
        help=N_("Relais: describe, rehearse, deploy, watch and audit public digital-access sites. "
                "Exit codes: 0 done, 1 failed or found, 2 usage or input error, 130 interrupted."),
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    return app


def _split(argv: Sequence[str]) -> tuple[list[str], str | None, bool]:
    """(argv without ``--lang X``, the language asked, whether ``--json`` is asked)."""
    args: list[str] = []
    lang: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            args += argv[i:]
            break
        if arg == "--lang" and i + 1 < len(argv):
            lang, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--lang="):
            lang, i = arg.split("=", 1)[1], i + 1
            continue
        args.append(arg)
        i += 1
    plain = args[: args.index("--")] if "--" in args else args
    return args, lang, "--json" in plain


def main(argv: Sequence[str] | None = None) -> int:
    args, lang, as_json = _split(sys.argv[1:] if argv is None else argv)
    try:
        language = resolve_language(lang)
        with use_language(language):
            command = typer.main.get_command(build())
            localize(command)
            return run_command(command, args, as_json=as_json)
    except ConfigError as exc:  # the language itself, or its catalogue, is unusable
        return report_error(exc, as_json)


if __name__ == "__main__":
    raise SystemExit(main())
