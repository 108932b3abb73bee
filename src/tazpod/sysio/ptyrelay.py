"""A command on a terminal of its own, relayed to a terminal another process handed us.

The in-container opener (tazpod.enclave.opener) gets the descriptors of the user's
terminal over a Unix socket. A terminal is the controlling terminal of one session
only (the user's shell's), so the command gets a new pseudo-terminal: it is the
session leader there (job control, Ctrl-C and window sizes work as on any terminal),
and this process copies bytes between the two, the user's in raw mode meanwhile.
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

CHUNK = 65536


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
    stdio: tuple[int, int, int],
    extra: Sequence[int] = (),
    terminal: int | None = None,
) -> int:
    """Start ``argv`` in a new session on ``stdio`` (and ``extra`` from fd 3 on); with
    ``terminal``, that one (a pty's slave) is its controlling terminal."""
    pid = os.fork()
    if pid:
        return pid
    try:
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
        os.chdir(cwd)
        os.execve(argv[0], list(argv), dict(env))  # noqa: S606 (a fixed program)
    except BaseException:
        os._exit(127)
    raise AssertionError("unreachable")


def copy_size(source: int, target: int) -> None:
    """The window size of terminal ``source`` onto ``target`` (its foreground gets SIGWINCH)."""
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return False
    return True


def relay(
    user_in: int,
    user_out: int,
    master: int,
    control: socket.socket,
    on_control: Callable[[bytes], None],
    child_gone: Callable[[], bool],
) -> bool:
    """Copy the user's keys to the pty and its output back, until the command's terminal
    closes. ``on_control``: what came on the control socket; False when it closed
    first (the user's side went away), True when the terminal ended."""
    saved = termios.tcgetattr(user_in) if os.isatty(user_in) else None
    if saved is not None:
        tty.setraw(user_in)
    try:
        reading = True
        while True:
            waiting = [master, control.fileno(), *([user_in] if reading else [])]
            try:
                ready, _, _ = select.select(waiting, [], [], 1.0)
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, CHUNK)
                except OSError as err:
                    if err.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    return True
                _write_all(user_out, data)
            if user_in in ready:
                data = os.read(user_in, CHUNK)
                if data:
                    _write_all(master, data)
                else:
                    reading = False
            if control.fileno() in ready:
                data = control.recv(4096)
                if not data:
                    return False
                on_control(data)
            if not ready and child_gone():
                return True
    finally:
        if saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(user_in, termios.TCSADRAIN, saved)
