"""The supervisor: waits on the enclave's processes and its control socket, then closes it.

Single-threaded: one selector over the signal wake-up pipe, the control
socket (inside the enclave), the door (root's, outside it: tazpod.enclave.admission)
and the joined sessions' connections. The enclave ends when its first
process has exited and no joined session remains, on `tazpod lock`, or on
SIGTERM/SIGHUP. Ending means: stop every enclave process, save, unmount.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct
from collections.abc import Callable
from typing import Any

from tazpod.enclave import admission, autolock, control
from tazpod.enclave.session import EnclaveMounts, seal_or_rescue
from tazpod.errors import TazpodError
from tazpod.sysio import linux, procs

_SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _noop(_signum: int, _frame: object) -> None:
    pass


def install_signal_wakeup() -> tuple[int, dict[int, Any]]:
    """Route SIGCHLD/SIGTERM/SIGHUP to a pipe; ignore SIGINT/SIGQUIT (they are the child's)."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    previous: dict[int, Any] = {}
    for signum in (signal.SIGCHLD, *_SHUTDOWN_SIGNALS):
        previous[signum] = signal.signal(signum, _noop)
    for signum in (signal.SIGINT, signal.SIGQUIT):
        previous[signum] = signal.signal(signum, signal.SIG_IGN)
    signal.set_wakeup_fd(wake_w)
    return wake_r, previous


def peer_uid(conn: socket.socket) -> tuple[int, int]:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return pid, uid


class Supervisor:
    def __init__(
        self,
        enclave: EnclaveMounts,
        start: Callable[[], int],
        door: socket.socket | None = None,
        limits: autolock.Limits | None = None,
    ) -> None:
        self.enclave = enclave
        self.door = door
        self.start = start  # starts the enclave's first command; returns its pid
        self.selector = selectors.DefaultSelector()
        self.sessions: dict[socket.socket, int] = {}  # joined session -> joiner pid
        self.main_pid = -1
        self.main_status: int | None = None
        self.stop_signal: int | None = None
        self.lock_requested = False
        self.autolock = autolock.AutoLock(limits or autolock.Limits(), enclave.user.uid)
        self.lock_reason = ""  # why the auto-lock ended the enclave

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> int:
        linux.prctl(procs.PR_SET_CHILD_SUBREAPER, 1)
        linux.forbid_core_dumps(dumpable=False)  # it holds the decrypted tree's recipient
        wake_r, _previous = install_signal_wakeup()
        listener = self._listen()
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        self.selector.register(listener, selectors.EVENT_READ, "listener")
        if self.door is not None:
            self.selector.register(self.door, selectors.EVENT_READ, "door")
        self.main_pid = self.start()
        self._collect(procs.reap_children())
        while not self._done():
            for key, _mask in self.selector.select(timeout=self.autolock.wait()):
                if key.data == "signal":
                    self._on_signals(wake_r)
                elif key.data == "listener":
                    self._accept(listener)
                elif key.data == "door":
                    self._answer_door()
                else:
                    self._on_session(key.fileobj)  # type: ignore[arg-type]
            self._collect(procs.reap_children())
            self._check_autolock()
        listener.close()
        return self._finish()

    def _done(self) -> bool:
        if self.stop_signal is not None or self.lock_requested:
            return True
        return self.main_status is not None and not self.sessions

    def _check_autolock(self) -> None:
        reason = self.autolock.poll([os.getpid(), *self.sessions.values()])
        if reason is not None and not self.lock_requested:
            self.lock_requested, self.lock_reason = True, reason

    def _collect(self, statuses: dict[int, int]) -> None:
        if self.main_pid in statuses:
            self.main_status = statuses[self.main_pid]

    def _on_signals(self, wake_r: int) -> None:
        with contextlib.suppress(BlockingIOError):
            for signum in os.read(wake_r, 64):
                if signum in _SHUTDOWN_SIGNALS:
                    self.stop_signal = signum

    # -- control socket -----------------------------------------------------------------
    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = self.enclave.root / control.CONTROL_DIR / control.SOCKET_NAME
        with self.enclave.as_user():
            listener.bind(str(path))
            os.chmod(path, 0o600)
        listener.listen(8)
        listener.setblocking(False)
        return listener

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _addr = listener.accept()
        except BlockingIOError:
            return
        conn.settimeout(2.0)
        try:
            pid, uid = peer_uid(conn)
            if uid not in (0, self.enclave.user.uid):
                control.send_line(conn, {"ok": False, "message": "not this enclave's user"})
                conn.close()
                return
            request = control.recv_line(conn)
            op = request.get("op") if request else None
            reply = self._handle(str(op), pid, conn)
            control.send_line(conn, reply)
        except (OSError, ValueError, json.JSONDecodeError):
            conn.close()
            return
        if op == "join" and reply.get("ok"):
            conn.setblocking(False)
            self.sessions[conn] = pid
            self.selector.register(conn, selectors.EVENT_READ, "session")
        else:
            conn.close()

    def _answer_door(self) -> None:
        """Root outside the enclave: hand it the namespaces to join, close, or report."""
        assert self.door is not None
        try:
            conn, _addr = self.door.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(2.0)
            try:
                _pid, uid = peer_uid(conn)
                request = control.recv_line(conn) if uid == 0 else None
                op = str(request.get("op")) if request else ""
                if uid != 0:
                    admission.answer(conn, {"ok": False, "message": "root only"})
                elif op == "namespaces":
                    self._hand_namespaces(conn)
                elif op in ("lock", "status"):
                    admission.answer(conn, self._handle(op, 0, conn))
                else:
                    admission.answer(conn, {"ok": False, "message": f"unknown request {op!r}"})
            except (OSError, ValueError, json.JSONDecodeError):
                return

    def _hand_namespaces(self, conn: socket.socket) -> None:
        fds = admission.own_namespaces(self.enclave.store.user_namespace_mount)
        try:
            reply = {
                "ok": True,
                "uid": self.enclave.user.uid,
                "mount_point": str(self.enclave.mount_point),
            }
            admission.answer(conn, reply, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _handle(self, op: str, pid: int, conn: socket.socket) -> dict[str, Any]:
        if op == "status":
            used, total = self.enclave.usage()
            return {
                "ok": True,
                "backend": self.enclave.store.kind,
                "mount_point": str(self.enclave.mount_point),
                "opened_at": self.enclave.opened_at,
                "last_save": self.enclave.last_save,
                "sessions": 1 + len(self.sessions)
                if self.main_status is None
                else len(self.sessions),
                "used": used,
                "size": total,
                **self.autolock.status(),
            }
        if op == "save":
            try:
                saved, rescue = seal_or_rescue(self.enclave)
            except TazpodError as err:  # the enclave stays open: the work is still here
                return {"ok": False, "message": f"{err}; the enclave is still open"}
            if rescue is not None:
                return {"ok": False, "message": f"the vault was not saved; sealed to {rescue}"}
            return {"ok": True, "message": f"saved ({saved})"}
        if op == "lock":
            self.lock_requested = True
            return {"ok": True, "message": "saving and closing the enclave"}
        if op == "join":
            return {"ok": True, "message": "joined"}
        return {"ok": False, "message": f"unknown request {op!r}"}

    def _on_session(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            self.sessions.pop(conn, None)
            conn.close()

    # -- the end --------------------------------------------------------------------------
    def _finish(self) -> int:
        if self.lock_reason:
            self.enclave.report(f"auto-lock: {self.lock_reason}; saving and closing the enclave")
        roots = [os.getpid(), *self.sessions.values()]
        # `tazpod lock` hangs the shells up, as closing their terminal would: an interactive
        # shell ignores SIGTERM but exits on SIGHUP, and writes its history (into the vault)
        # first, before the save below.
        first = self.stop_signal or (signal.SIGHUP if self.lock_requested else signal.SIGTERM)
        self._collect(procs.terminate(roots, first=first))
        for conn in list(self.sessions):
            conn.close()
        self.sessions.clear()
        saved, rescue = seal_or_rescue(self.enclave)
        if rescue is not None:
            self.enclave.report(
                f"could not write the vault directory; the vault was sealed to {rescue}"
            )
        else:
            self.enclave.report(f"vault saved ({saved})")
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        if self.lock_requested or self.main_status is None:
            return 0  # ended on purpose by `tazpod lock`
        return procs.exit_code(self.main_status)
