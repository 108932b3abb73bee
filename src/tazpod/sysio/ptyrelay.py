"""A command on a terminal of its own, relayed to a terminal another process handed us.

The in-container opener (tazpod.enclave.opener) gets the descriptors of the user's
terminal over a Unix socket. A terminal is the controlling terminal of one session
only (the user's shell's), so the command gets a new pseudo-terminal: it is the
session leader there (job control, Ctrl-C and window sizes work as on any terminal),
and this process copies bytes between the two, the user's in raw mode meanwhile.

`tazpod run --mask` (tazpod.sysio.filtered) relays the same way, with its output
through a filter on the way (and, for output that goes to no terminal, pipes).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import termios
import tty
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

CHUNK = 65536
QUIET = 0.1  # seconds without output after which a filter lets out what it held back


class OutputFilter(Protocol):
    """What output passes through on its way (tazpod.secrets.masking.Masker)."""

    @property
    def pending(self) -> bool: ...

    def feed(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class Flow:
    """Output from ``source`` to ``target``, through ``output`` when there is one."""

    def __init__(self, source: int, target: int, output: OutputFilter | None = None) -> None:
        self.source, self.target, self.output = source, target, output

    @property
    def pending(self) -> bool:
        return self.output is not None and self.output.pending

    def pass_on(self, data: bytes) -> bool:
        """False: the target took no more (its reader went away)."""
        return _write_all(self.target, self.output.feed(data) if self.output is not None else data)

    def flush(self) -> None:
        if self.output is not None:
            _write_all(self.target, self.output.flush())

    def close(self) -> None:
        """Close the source (once): a command writing there gets SIGPIPE, as in a pipeline."""
        if self.source >= 0:
            os.close(self.source)
            self.source = -1


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    stdio: tuple[int, int, int],
    extra: Sequence[int] = (),
    terminal: int | None = None,
    session: bool = True,
    program: str | None = None,
) -> int:
    """Start ``argv`` (in ``cwd``, or here) in a new session on ``stdio`` (and ``extra``
    from fd 3 on); with ``terminal``, that one (a pty's slave) is its controlling
    terminal. Without ``session``, it stays in this process's session and process group
    (its terminal's Ctrl-C reaches it). ``program``: the file to run, when ``argv[0]``
    is not its path (a name found on the PATH)."""
    pid = os.fork()
    if pid:
        return pid
    try:
        if session:
            os.setsid()
        if terminal is not None:
            fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)
        wanted = [*stdio, *extra]
        moved = [os.dup(fd) for fd in wanted]  # never clobber one with another
        for target, fd in enumerate(moved):
            os.dup2(fd, target)
        os.closerange(len(wanted), 65536)
        for signum in (
            signal.SIGINT,
            signal.SIGQUIT,
            signal.SIGTERM,
            signal.SIGHUP,
            signal.SIGCHLD,
            signal.SIGPIPE,
            signal.SIGWINCH,
        ):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if cwd is not None:
            os.chdir(cwd)
        os.execve(program or argv[0], list(argv), dict(env))  # noqa: S606 (a fixed program)
    except BaseException:
        os._exit(127)
    raise AssertionError("unreachable")


class ChildWatch:
    """A child's end, seen without blocking: reaped once, its wait status kept."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def gone(self) -> bool:
        if self.status is None:
            pid, code = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = code
        return self.status is not None

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status


def copy_size(source: int, target: int) -> None:
    """The window size of terminal ``source`` onto ``target`` (its foreground gets SIGWINCH)."""
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


def _write_all(fd: int, data: bytes) -> bool:
    if not data:
        return True
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return False
    return True


def relay(
    user_in: int | None,
    user_out: int,
    master: int | None,
    control: socket.socket,
    on_control: Callable[[bytes], None],
    child_gone: Callable[[], bool],
    output: OutputFilter | None = None,
    pipes: Sequence[Flow] = (),
) -> bool:
    """Copy the user's keys to the pty and its output back, until the command's terminal
    closes. ``on_control``: what came on the control socket; False when it closed
    first (the user's side went away), True when the terminal ended.

    ``output`` filters what the pty writes; ``pipes`` are more outputs (the command's
    stdout or stderr when they go to no terminal), copied until they close too, or until
    their target takes no more (then closed). A filter that holds output back lets it
    out after ``QUIET`` seconds without output, and at the end.
    """
    flows = [*([Flow(master, user_out, output)] if master is not None else []), *pipes]
    keys = user_in if user_in is not None and os.isatty(user_in) else None
    saved = termios.tcgetattr(keys) if keys is not None else None
    if keys is not None:
        tty.setraw(keys)
    try:
        return _pump(user_in, master, flows, control, on_control, child_gone)
    finally:
        for flow in flows:
            flow.flush()
        if keys is not None and saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(keys, termios.TCSADRAIN, saved)


def _pump(
    user_in: int | None,
    master: int | None,
    flows: list[Flow],
    control: socket.socket,
    on_control: Callable[[bytes], None],
    child_gone: Callable[[], bool],
) -> bool:
    keys = user_in if master is not None else None  # (keys go to the pty)
    while True:
        sources = {flow.source: flow for flow in flows}
        waiting = [*sources, control.fileno(), *([keys] if keys is not None else [])]
        quiet = any(flow.pending for flow in flows)
        try:
            ready, _, _ = select.select(waiting, [], [], QUIET if quiet else 1.0)
        except InterruptedError:
            continue
        for fd in ready:
            if fd not in sources:
                continue
            try:
                data = os.read(fd, CHUNK)
            except OSError as err:
                if err.errno != errno.EIO:  # EIO: a pty whose every slave is closed
                    raise
                data = b""
            flow = sources[fd]
            if data and (flow.pass_on(data) or fd == master):  # (a terminal: its hang-up)
                continue
            if data:  # `| head` had enough: so has the command
                flow.close()
            else:
                flow.flush()
            flows.remove(flow)
            if not flows:
                return True
        if keys is not None and keys in ready and master is not None:
            try:
                data = os.read(keys, CHUNK)
            except OSError:  # a terminal hung up: as its end
                data = b""
            if data:
                _write_all(master, data)
            else:
                keys = None
        if control.fileno() in ready:
            data = control.recv(4096)
            if not data:
                return False
            on_control(data)
        if not ready:
            for flow in flows:
                flow.flush()
            if child_gone():
                return True
