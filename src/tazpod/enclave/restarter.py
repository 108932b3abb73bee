"""`tazpod run --restart-on-change`: the command keeps running with its secrets as they are now.

A keeper process (root, in the enclave, forked by whoever starts the command) starts the
command, then watches the files its secrets come from. When what the command was given
changed (a `tazpod pull`, a `secrets set`, an edited mapped file), it stops the command and
starts it again with the new values and a new view, or, with `--signal` (not with a grant:
a grant's view holds the files it started with), sends it that signal once the value files
are up to date (a variable cannot change in a running process: a server that reloads on a
signal reads files). When the command ends on
its own, the keeper ends with its exit code.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Sequence
from pathlib import Path

from tazpod.enclave.command import Prepared, Scope, fingerprint, identity, prepare
from tazpod.enclave.spawn import spawn
from tazpod.sysio import linux, procs
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
        linux.prctl(procs.PR_SET_CHILD_SUBREAPER, 1)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._forward)
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)  # the terminal's: the command's to take
        prepared = prepare(self.scope, self.report, record=False)
        self.start(prepared)
        seen, last = identity(self.scope), fingerprint(self.scope, prepared)
        while True:
            status = self._wait(POLL)
            if status is not None:
                return procs.exit_code(status)
            now = identity(self.scope)
            if now == seen or self.stopping is not None:
                continue
            seen = now
            fresh = prepare(self.scope, self.report, record=False)
            now_given = fingerprint(self.scope, fresh)
            if now_given == last:
                continue
            last = now_given
            if self.signum is None:
                self.report(f"its secrets changed: restarting {self.argv[0]}")
                self._stop()
                if self.stopping is not None:
                    continue  # asked to end meanwhile: no new start
                self.start(fresh)
            else:  # (the command sees the vault itself: prepare() rewrote the value files)
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
        """The whole generation: the command and everything it started (the keeper is their
        subreaper: what they left behind is its child too), SIGKILL after the grace."""
        procs.terminate([os.getpid()], grace=GRACE)


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
