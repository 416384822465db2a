"""Stopping a test's TCP server whose accept loop runs in a thread, without leaking that thread.

Closing the listening socket from the test does not wake a thread blocked in ``accept()`` (Linux
keeps the call on the old socket); the thread outlives its test, blocked on a descriptor number
the next socket of the process is given.  Seen on 2026-12-02: four such threads of
``tests/netdev/replay.py`` sat in ``accept4(13)`` while fd 13 was the calendar server of
``tests/public/test_agenda.py``, whose request vanished, and that test hung (its server's
``shutdown()`` never returned).  :func:`stop` shuts the socket down first (``accept()`` then
fails with EINVAL), waits for the thread to end, and only then closes the descriptor."""

from __future__ import annotations

import contextlib
import socket
import threading


def stop(sock: socket.socket, thread: threading.Thread | None, timeout: float = 10.0) -> None:
    """Wake ``thread``'s ``accept()`` on ``sock``, wait for the thread, then close ``sock``."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the accept loop of {sock} did not end within {timeout:g} s")
    with contextlib.suppress(OSError):
        sock.close()
