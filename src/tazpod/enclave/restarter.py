"""`tazpod run --restart-on-change`: the command keeps running with its secrets as they are now.

A keeper process (root, in the enclave, forked by whoever starts the command) starts the
command, then watches the files its secrets come from. When what the command was given
changed (a `tazpod pull`, a `secrets set`, an edited mapped file), it stops the command and
starts it again with the new values and a new view, or, with `--signal`, brings the files
the command sees up to date and sends it that signal (a variable cannot change in a
running process: a server that reloads on a signal reads files). When the command ends on
its own, the keeper ends with its exit code.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from tazpod.enclave.command import Prepared, Scope, identity, prepare
from tazpod.enclave.spawn import spawn
from tazpod.secrets.value_files import materialize
from tazpod.sysio import procfs, procs
from tazpod.sysio.creds import acting_as, fd_path
from tazpod.vault.base import Report

POLL = 1.0  # seconds between looks at the vault's files (a stat each)
GRACE = 10.0  # seconds a stopped command has to end before SIGKILL


class _Keeper:
    def __init__(
        self, scope: Scope, argv: Sequence[str], cwd: Path, signum: int | None, report: Report
    ) -> None:
        self.scope, self.argv, self.cwd, self.signum, self.report = scope, argv, cwd, signum, report
        self.child = -1
        self.stopping: int | None = None

    def start(self, prepared: Prepared) -> None:
        view = prepared.view
        self.child = spawn(self.scope.user, self.argv, prepared.env, self.cwd, view)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._forward)
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)  # the terminal's: the command's to take
        prepared = prepare(self.scope, self.report, record=False)
        self.start(prepared)
        fingerprint, seen = prepared.fingerprint, identity(self.scope)
        while True:
            status = self._wait(POLL)
            if status is not None:
                return procs.exit_code(status)
            now = identity(self.scope)
            if now == seen or self.stopping is not None:
                continue
            seen = now
            fresh = prepare(self.scope, self.report, record=False)
            if fresh.fingerprint == fingerprint:
                continue
            fingerprint = fresh.fingerprint
            if self.signum is None:
                self.report(f"its secrets changed: restarting {self.argv[0]}")
                self._stop()
                if self.stopping is not None:
                    continue  # asked to end meanwhile: no new start
                self.start(fresh)
            else:
                self._refresh(fresh)
                self.report(f"its secrets changed: sent {signal.Signals(self.signum).name}")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.child, self.signum)

    def _forward(self, signum: int, _frame: object) -> None:
        self.stopping = signum
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signum)

    def _wait(self, timeout: float) -> int | None:
        """The child's wait status once it ended within ``timeout``; None if it still runs."""
        try:
            pidfd = os.pidfd_open(self.child)
        except ProcessLookupError:
            pidfd = -1
        try:
            if pidfd >= 0:
                with contextlib.suppress(InterruptedError):
                    select.select([pidfd], [], [], timeout)
            pid, status = os.waitpid(self.child, os.WNOHANG)
            return status if pid else None
        except ChildProcessError:
            return 0
        finally:
            if pidfd >= 0:
                os.close(pidfd)

    def _stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while self._wait(0.2) is None:
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.child, signal.SIGKILL)

    def _refresh(self, fresh: Prepared) -> None:
        """--signal: the files the running command sees, brought up to date."""
        user = self.scope.user
        if fresh.view is None or not fresh.view.granted:
            return  # it sees the vault itself; prepare() rewrote the value files
        # Its view is its own mount namespace: reached through its root, as root (the
        # namespace's owner), then written with the user's rights.
        where = os.open(
            procfs.root_of(self.child) + str(self.scope.mount_point),
            os.O_PATH | os.O_DIRECTORY,
        )
        try:
            root = fd_path(where)
            with acting_as(user.uid, user.gid, user.groups):
                for problem in materialize(root, fresh.view.value_files):
                    self.report(problem)
                for name in fresh.view.files:
                    _copy_into(self.scope.mount_point / name, os.path.join(root, name))
        finally:
            os.close(where)


def _read_plain(path: str) -> bytes | None:
    """A plain file's content, never through a link or from a FIFO (it would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _copy_into(source: Path, bound: str) -> None:
    """A mapped file bound into the view still shows the file it was bound from; when the
    vault's file was replaced since, its content goes into the bound one (in place: a bind
    mount cannot be renamed over)."""
    data = _read_plain(str(source))
    if data is None or _read_plain(bound) == data:
        return
    try:
        fd = os.open(bound, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def keep(scope: Scope, argv: Sequence[str], cwd: Path, signum: int | None, report: Report) -> int:
    """Fork the keeper (it starts the command); returns its pid, which stands for the
    command (the supervisor waits for it, `tazpod lock` stops it)."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = _Keeper(scope, argv, cwd, signum, report).run()
    except BaseException as err:  # never return into the parent's code
        with contextlib.suppress(Exception):
            report(f"the command's keeper stopped: {err}")
    finally:
        os._exit(code)
