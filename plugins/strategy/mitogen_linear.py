# Mitogen's "linear" strategy for the Relais playbooks (ansible.cfg: strategy = mitogen_linear).
#
# Mitogen keeps one Python interpreter per host alive over the SSH connection and runs every
# module in it, instead of starting a fresh interpreter and unpacking an AnsiballZ archive for
# each task: an idempotent re-run of a site then costs about a third of the wall time (see
# bench/deploy.py and docs/deploy.md).  The playbooks and roles stay plain Ansible; to run
# without Mitogen, set ANSIBLE_STRATEGY=linear.
#
# This file only makes the strategy of the installed `mitogen` package (a dependency of
# relais-fleet) findable through a path relative to ansible.cfg.
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
