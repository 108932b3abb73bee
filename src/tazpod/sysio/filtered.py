"""A command whose output passes through filters, a terminal still a terminal
(`tazpod run --mask`, tazpod.cli.commands.mask).

When this process's stdout or stderr is a terminal, the command gets a pseudo-terminal
of its own (tazpod.sysio.ptyrelay), set up like the real one (modes, window size):
programs see a terminal (isatty, colours, line editing), the real one is in raw mode
meanwhile and gets it back on every way out, keys are relayed, and a window-size
change is passed on. An output that goes to no terminal is a pipe, so stdout and
stderr stay apart. The command's exit code is this process's; a command killed by a
signal has this process killed by the same signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import termios
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from tazpod.sysio import ptyrelay

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT)


def find_program(name: str, env: Mapping[str, str]) -> str | None:
    """The file ``name`` runs, on the PATH of ``env`` (the user's own command, in the enclave)."""
    import shutil

    return shutil.which(name, path=env.get("PATH", os.defpath))


def run_filtered(
    argv: Sequence[str],
    env: Mapping[str, str],
    make_filter: Callable[[], ptyrelay.OutputFilter],
    program: str,
) -> int:
    """Run ``program`` as ``argv`` with each output through a filter; its wait status."""
    terminal = next((fd for fd in (1, 2) if os.isatty(fd)), None)
    wake, woken = socket.socketpair()
    previous = _catch_signals(wake, terminal is not None)
    try:
        if terminal is None:
            return _on_pipes(program, argv, env, make_filter, woken)
        return _on_terminal(program, argv, env, make_filter, woken, terminal)
    finally:
        signal.set_wakeup_fd(-1)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        wake.close()
        woken.close()


def exit_like(status: int) -> int:
    """The exit code for the command's wait status; for a signal, first that same death."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        os.kill(os.getpid(), signum)
        return 128 + signum  # (not reached: a signal that ended the command ends us)
    return os.waitstatus_to_exitcode(status)


def _catch_signals(wake: socket.socket, terminal: bool) -> dict[int, Handler]:
    """Signals become bytes on ``wake`` (handled in the relay's loop, not in a handler).

    On a terminal, the command has a session of its own: what this process is sent is
    passed on. Without one, the command shares this process's group: a Ctrl-C reached it
    already, and this process waits for what it does about it.
    """
    wake.setblocking(False)
    signal.set_wakeup_fd(wake.fileno(), warn_on_full_buffer=False)
    previous: dict[int, Handler] = {}
    for signum in (*_FORWARDED, *([signal.SIGWINCH] if terminal else [])):
        previous[signum] = signal.signal(signum, _noted)
    return previous


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """(The wake-up descriptor carries the signal's number.)"""


def _on_pipes(
    program: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    make_filter: Callable[[], ptyrelay.OutputFilter],
    woken: socket.socket,
) -> int:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child = ptyrelay.spawn(argv, env, None, (0, out_w, err_w), session=False, program=program)
    os.close(out_w)
    os.close(err_w)
    pipes = [ptyrelay.Flow(out_r, 1, make_filter()), ptyrelay.Flow(err_r, 2, make_filter())]
    try:
        return _relay_and_wait(child, None, None, pipes, woken, None, interactive=False)
    finally:
        for flow in pipes:
            flow.close()


def _on_terminal(
    program: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    make_filter: Callable[[], ptyrelay.OutputFilter],
    woken: socket.socket,
    terminal: int,
) -> int:
    master, slave = os.openpty()
    with contextlib.suppress(termios.error):
        termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(terminal))
    ptyrelay.copy_size(terminal, slave)
    pipes: list[ptyrelay.Flow] = []
    stdio = [slave if os.isatty(0) else 0, slave, slave]
    for fd in (1, 2):
        if not os.isatty(fd):  # the other output, to no terminal: a pipe of its own
            read_end, stdio[fd] = os.pipe()
            pipes.append(ptyrelay.Flow(read_end, fd, make_filter()))
    try:
        stdio_fds = (stdio[0], stdio[1], stdio[2])
        child = ptyrelay.spawn(argv, env, None, stdio_fds, terminal=slave, program=program)
    finally:
        for fd in {slave, *stdio} - {0}:
            os.close(fd)
    keys = 0 if os.isatty(0) else None
    try:
        return _relay_and_wait(
            child, keys, master, pipes, woken, make_filter(), interactive=True, terminal=terminal
        )
    finally:
        os.close(master)
        for flow in pipes:
            flow.close()


def _relay_and_wait(
    child: int,
    keys: int | None,
    master: int | None,
    pipes: list[ptyrelay.Flow],
    woken: socket.socket,
    output: ptyrelay.OutputFilter | None,
    interactive: bool,
    terminal: int | None = None,
) -> int:
    watch = ptyrelay.ChildWatch(child)

    def on_signals(data: bytes) -> None:
        for signum in data:
            if signum == signal.SIGWINCH:
                if terminal is not None and master is not None:
                    ptyrelay.copy_size(terminal, master)
            elif interactive or signum in (signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signum)

    screen = terminal if terminal is not None else 1
    ptyrelay.relay(keys, screen, master, woken, on_signals, watch.gone, output=output, pipes=pipes)
    return watch.wait()
