"""The container user's side of `tazpod unlock`/`run`/`lock` in the dev container: the
request to root's opener (tazpod.enclave.opener), with this process's stdin, stdout and
stderr; then waiting for the exit code. Nothing typed passes through this process: root's
side reads the terminal itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from tazpod.enclave.opener import SOCKET
from tazpod.errors import TazpodError, UsageError, VaultError


def _connect() -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(SOCKET))
    except OSError as err:
        conn.close()
        raise VaultError(
            f"cannot reach root's tazpod in this container ({SOCKET}: {err.strerror})",
            hint="containers made by an older tazpod have none: `tazpod up --replace` on"
            " the host makes one that has it; or open the enclave from the host with"
            " `tazpod unlock`",
        ) from err
    return conn


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed from under us: the enclave's command starts in the home
        return ""


def _let_go() -> None:
    """Our stdin and stdout are root's side's now: keep no pipe of the command's open here
    (stderr stays, for our own messages; this process is not dumpable)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        if not os.isatty(fd):
            os.dup2(null, fd)
    os.close(null)


def _lines(conn: socket.socket) -> Any:
    pending = b""
    while True:
        try:
            chunk = conn.recv(4096)
        except InterruptedError:
            continue
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield json.loads(line)


def request(
    op: str,
    command: Sequence[str] = (),
    sync: bool = False,
    options: Sequence[str] = (),
    passphrase_file: str | None = None,
    passphrase_fd: int | None = None,
) -> int:
    """Ask root's opener; the exit code of what it ran.

    This process is made non-dumpable first: another process of the user can then neither
    trace it nor open what it holds through /proc/<pid>/fd (the enclave command's pipes,
    the passphrase file), and once its descriptors are handed over it keeps no pipe of
    the command's open (a terminal stays: the user's shell holds it anyway).
    """
    from tazpod.sysio import linux

    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    passfd = None
    if passphrase_file is not None:
        try:
            passfd = os.open(passphrase_file, os.O_RDONLY | os.O_CLOEXEC)  # as this user
        except OSError as err:
            raise UsageError(
                f"cannot read the passphrase file {passphrase_file}: {err.strerror}",
                hint="give a file you can read (it is opened as you, never as root)",
            ) from err
    elif passphrase_fd is not None:
        passfd = passphrase_fd
    payload = {
        "op": op,
        "command": list(command),
        "sync": sync,
        "options": list(options),
        "term": os.environ.get("TERM", ""),
        "cwd": _cwd(),
    }
    fds = [0, 1, 2, *([passfd] if passfd is not None else [])]
    terminal = os.isatty(0)
    saved = None
    if terminal:
        import termios

        saved = termios.tcgetattr(0)
    with _connect() as conn:
        socket.send_fds(conn, [json.dumps(payload).encode() + b"\n"], fds)
        if passfd is not None and passphrase_file is not None:
            os.close(passfd)
        _let_go()

        def resize(_signum: int, _frame: object) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(b"winch\n")

        previous = signal.signal(signal.SIGWINCH, resize) if terminal else None
        try:
            for message in _lines(conn):
                if "error" in message:
                    raise TazpodError(f"root's tazpod in the container refused: {message['error']}")
                if "exit" in message:
                    return int(message["exit"])
        finally:
            if previous is not None:
                signal.signal(signal.SIGWINCH, previous)
            if saved is not None:
                import termios

                with contextlib.suppress(termios.error):
                    termios.tcsetattr(0, termios.TCSADRAIN, saved)
    raise VaultError("root's tazpod in the container ended without an exit code")
