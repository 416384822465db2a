"""tests/listeners.py: a test's accept loop ends with its server (a thread left in accept() on a
freed descriptor number hung a later test that got the number)."""

from __future__ import annotations

import platform
import socket
import threading
import time
from pathlib import Path

from tests.listeners import stop


def _loop(sock: socket.socket) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        conn.close()


def _server() -> tuple[socket.socket, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    thread = threading.Thread(target=_loop, args=(sock,), daemon=True)
    thread.start()
    with socket.create_connection(sock.getsockname(), timeout=5):
        pass  # the loop is in accept() (it served this one and went back)
    return sock, thread


ACCEPT4 = {"x86_64": 288, "aarch64": 242}[platform.machine()]


def _wait_in_accept(thread: threading.Thread) -> None:
    """Until the kernel says ``thread`` is blocked in accept4() (not a guess on timing)."""
    syscall = Path(f"/proc/self/task/{thread.native_id}/syscall")
    deadline = time.monotonic() + 10
    while not syscall.read_text().startswith(f"{ACCEPT4} "):
        assert time.monotonic() < deadline, "the accept loop never blocked in accept4()"
        time.sleep(0.01)


def test_stop_ends_the_accept_loop_before_freeing_the_descriptor() -> None:
    # the defect, shown: close() while the thread is in accept() leaves it there
    sock, thread = _server()
    _wait_in_accept(thread)
    sock.close()
    thread.join(1)
    assert thread.is_alive()
    # (it stays, blocked on the old socket: a daemon, the end of the process ends it)
    sock, thread = _server()
    _wait_in_accept(thread)
    stop(sock, thread)
    assert not thread.is_alive() and sock.fileno() == -1
