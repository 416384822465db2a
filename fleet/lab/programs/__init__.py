"""Programs the lab runs elsewhere than in this process: each is a real module, executed by
path with another interpreter, so it imports nothing of ``fleet``.

- :mod:`fake_switch` — the lab switch (fake-switches IOS simulator), run by ``fleet lab up`` in
  the switch's namespace with the simulator's own virtualenv (``python -I PATH``: the namespace
  shares this machine's filesystem, so the file is run where it is);
- :mod:`fakenet_http` — the fake internet's web server, copied into the fake-internet host's
  root as ``/usr/local/bin/relais-fakenet-http`` and run there by Debian's python3.
"""

from __future__ import annotations

from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent


def program(name: str) -> Path:
    """The file of one program (``fake_switch``, ``fakenet_http``)."""
    return PROGRAMS / f"{name}.py"
