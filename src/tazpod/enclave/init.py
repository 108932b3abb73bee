"""The dev container's first process (`tazpod container-init`): init's duties and the opener.

Single-threaded: one selector over the signal wake-up pipe and the opener's socket.
SIGCHLD reaps every child and orphan; each request is served by a child of its own
(tazpod.enclave.opener.handle), so a slow passphrase never holds the others. SIGTERM
(the engine's stop) first asks each open enclave's door to save and close, waits for
them within the engine's grace period, then exits.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import selectors
import signal
import time
from collections.abc import Callable

from tazpod.enclave import opener
from tazpod.errors import TazpodError

_STOP_WAIT = 9.5  # seconds of the engines' 10-second grace period for the enclaves' saves
MAX_HANDLERS = 32  # requests served at once (a flood of connections forks no more)
_handlers: set[int] = set()


def _noop(_signum: int, _frame: object) -> None:
    pass


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                return
            _handlers.discard(pid)


def _close_enclaves(report: Callable[[str], None]) -> None:
    from tazpod.enclave import admission
    from tazpod.project import paths

    deadline = time.monotonic() + _STOP_WAIT
    doors = sorted(paths.RUNTIME_DIR.glob("enclave-*.sock")) if paths.RUNTIME_DIR.is_dir() else []
    for door in doors:
        try:
            conn = admission.knock(door, timeout=2.0)
            if conn is None:
                continue
            with conn:
                admission.ask(conn, "lock")
            report(f"asked the enclave at {door.name} to save and close")
        except (OSError, ValueError, TazpodError) as err:
            report(f"could not reach the enclave at {door.name}: {err}")
    # The supervisor takes its door away once it has saved: wait for that, not for answers
    # (a closing supervisor accepts no more connections; knocking would fill its backlog).
    while time.monotonic() < deadline and any(door.exists() for door in doors):
        _reap()
        time.sleep(0.1)


def serve(user_name: str, digest: str, report: Callable[[str], None]) -> int:
    user = pwd.getpwnam(user_name)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _noop)
    signal.set_wakeup_fd(wake_w)
    listener = opener.listen(user)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    selector.register(listener, selectors.EVENT_READ, "listener")
    while True:
        for key, _mask in selector.select():
            if key.data == "signal":
                received = b""
                with contextlib.suppress(BlockingIOError):
                    received = os.read(wake_r, 64)
                _reap()
                if any(signum in (signal.SIGTERM, signal.SIGINT) for signum in received):
                    _close_enclaves(report)
                    return 0
            else:
                try:
                    _accept(listener, user.pw_uid, digest)
                except OSError as err:  # no process left to fork, say: the next one may do
                    report(f"could not serve a request: {err}")


def _accept(listener: object, uid: int, digest: str) -> None:
    import socket

    assert isinstance(listener, socket.socket)
    try:
        conn, _addr = listener.accept()
    except BlockingIOError:
        return
    if len(_handlers) >= MAX_HANDLERS:
        opener.refuse(conn, "busy: too many requests at once; try again")
        conn.close()
        return
    try:
        child = os.fork()
    except OSError:
        opener.refuse(conn, "cannot serve the request now (no process could be started)")
        conn.close()
        raise
    if child == 0:
        code = 0
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            listener.close()
            conn.setblocking(True)
            opener.handle(conn, uid, opener.approved_digest(digest))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _handlers.add(child)
    conn.close()
