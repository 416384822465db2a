"""One lab run at a time on a machine: the lab lock.

Lab sites share one set of namespace names, one controller namespace and 2 CPU cores, so two
lab runs at once break each other.  Every lab user takes ``/tmp/relais-lab.lock`` (``flock``
from a shell, :func:`lab_lock` from Python).  A process started under ``flock
/tmp/relais-lab.lock CMD`` inherits the locked file descriptor: :func:`lab_lock` sees it and
does not wait for its own parent.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LAB_LOCK = Path("/tmp/relais-lab.lock")  # noqa: S108 - a well-known path shared with `flock`


def held_by_ancestor(path: Path = LAB_LOCK) -> bool:
    """True when this process inherited an open descriptor of the lock file (``flock FILE CMD``)."""
    fd_dir = Path("/proc/self/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return False
    target = str(path)
    for entry in entries:
        try:
            if str(entry.readlink()) == target:
                return True
        except OSError:
            continue
    return False


@contextmanager
def lab_lock(path: Path = LAB_LOCK, *, say: bool = True) -> Iterator[None]:
    """Hold the lab lock for the duration of the block (waits for another lab run to end)."""
    if held_by_ancestor(path):
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say:
                print(f"lab: waiting for another lab run to finish ({path})", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
