"""Exit codes of every ``fleet`` command, declared once (the docs' table is generated from here:
``python -m fleet.cli.exits``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum

from fleet.i18n import N_
from fleet.i18n import gettext as _


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    FORBIDDEN = 3
    INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class ExitInfo:
    code: ExitCode
    meaning: str
    examples: str


EXIT_CODES: tuple[ExitInfo, ...] = (
    ExitInfo(ExitCode.OK, N_("done"),
             N_("a read command answered, whatever it shows (incidents, devices down); an action "
                "was recorded")),
    ExitInfo(ExitCode.FAILED, N_("the command ran and something failed or was found"),
             N_("a host not accepted by a deploy, a wipe that failed, `snmp test` without an "
                "answer, the store or the lab unreachable, a wipe declined at the prompt")),
    ExitInfo(ExitCode.USAGE, N_("usage or input error: nothing was changed"),
             N_("unknown option or bad value, invalid inventory, unknown site or device, no store "
                "where one was named, an incident in the wrong state, `--yes` missing for a "
                "whole site")),
    ExitInfo(ExitCode.FORBIDDEN, N_("not allowed: your role may not do this (nothing was done)"),
             N_("a hotline agent asking for a reboot during opening hours, a read-only account "
                "acting (fleet/permissions.yml)")),
    ExitInfo(ExitCode.INTERRUPTED, N_("interrupted (Ctrl-C)"), N_("nothing more was done")),
)


def table() -> str:
    """The exit-code table (Markdown), in the active language."""
    header = "| {} | {} | {} |".format(_("code"), _("meaning"), _("for example"))
    rows = [header, "|---|---|---|"]
    rows += [f"| `{e.code.value}` | {_(e.meaning)} | {_(e.examples)} |" for e in EXIT_CODES]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m fleet.cli.exits [fr|en]
    from fleet.i18n import use_language

    with use_language(sys.argv[1] if len(sys.argv) > 1 else "en"):
        sys.stdout.write(table())
