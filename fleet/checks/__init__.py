"""Verification of deployed hosts: pytest-testinfra checks, one module per concern.

Each check is a test function taking testinfra's ``host`` and the ``expect`` fixture (what the
inventory says this host should be), marked with its reference ids
(``@pytest.mark.ref("ANSSI-BP-028 R12", "CIS 3.3.1")``) and, when it applies to some device
kinds only, ``@pytest.mark.kinds("borne")``.  Checks only read: they never change a host.

``fleet deploy`` runs them after a deploy; the monthly audit runs the same ones.
:func:`run_checks` is the entry point.
"""

from __future__ import annotations

from fleet.checks.model import CheckReport, CheckResult, HostExpect
from fleet.checks.runner import CHECKS_DIR, expectations_for, run_checks

__all__ = [
    "CHECKS_DIR",
    "CheckReport",
    "CheckResult",
    "HostExpect",
    "expectations_for",
    "run_checks",
]
