"""Relais fleet engine: inventory, lab, deploy, monitoring, incidents, audit."""

from __future__ import annotations

__version__ = "0.1.0"
