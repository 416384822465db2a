# Mitogen's "linear" strategy for the Relais playbooks, opt-in: ANSIBLE_STRATEGY=mitogen_linear.
#
# Mitogen keeps one Python interpreter per host alive over the SSH connection and runs every
# module in it, instead of starting a fresh interpreter and unpacking an AnsiballZ archive for
# each task: an idempotent re-run of a site then costs about a third of the wall time (see
# bench/deploy.py --mitogen and docs/deploy.md).  The playbooks and roles stay plain Ansible.
#
# This file only makes the strategy of the installed `mitogen` package (a dependency of
# relais-fleet) findable through a path relative to ansible.cfg.
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
