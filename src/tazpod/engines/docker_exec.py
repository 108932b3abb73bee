"""`tazpod exec` and `ssh` on Docker: the engine's exec API, spoken on its Unix socket.

What `docker exec -i [-t] -u USER -w DIR C CMD` does, without starting the docker CLI
(a Go program whose start-up was most of what tazpod added to an exec): create the exec
(POST /containers/ID/exec), start it on a connection the engine hands over to the
command's streams (POST /exec/ID/start, `Upgrade: tcp`), relay, then read its exit code
(GET /exec/ID/json). The framing is Docker's own (moby's `stdcopy`): without a terminal,
each chunk of output comes behind an 8-byte header, [stream, 0, 0, 0, size as 4 bytes
big-endian], stream 1 for stdout and 2 for stderr; with one, the bytes are the terminal's.

As the CLI does: the end of our stdin closes the command's (a half-close of the
connection), a terminal is put in raw mode, the command starts on a terminal of its size,
and every SIGWINCH sends the new one (POST /exec/ID/resize). No detach keys: every byte
typed reaches the command.
Imports only what `exec` needs (no dataclasses, no subprocess): it is on the hot path.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time

from tazpod.engines import docker_socket
from tazpod.errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

CHUNK = 65536
HEADER = 8
_EXIT_WAIT = 10.0  # seconds to wait for the engine to record an ended command's exit code


class ExecRefused(EngineError):
    """The engine would not create the exec (no such container, or it is not running):
    nothing ran, so the caller may look into why and say so."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the Docker engine refused the exec ({status}): {message}")
        self.status = status


class Demux:
    """Docker's multiplexed stream, fed as it arrives, cut into (fd, bytes) pieces."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._pending += data
        while len(self._pending) >= HEADER:
            stream = self._pending[0]
            size = int.from_bytes(self._pending[4:HEADER], "big")
            if len(self._pending) < HEADER + size:
                return
            payload = self._pending[HEADER : HEADER + size]
            self._pending = self._pending[HEADER + size :]
            if stream in (1, 2):  # (0 would be stdin, 3 the engine's own error text)
                yield stream, payload
            elif stream == 3:
                yield 2, payload

    @property
    def incomplete(self) -> bool:
        return bool(self._pending)


def create(
    path: str, container: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
) -> str:
    spec = {
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": tty,
        "User": user,
        "Cmd": list(argv),
    }
    if workdir:
        spec["WorkingDir"] = workdir
    target = f"/containers/{docker_socket.quote(container)}/exec"
    status, body = docker_socket.request(path, "POST", target, json.dumps(spec).encode())
    if status != 201:
        raise ExecRefused(status, docker_socket.message(body))
    try:
        return str(json.loads(body)["Id"])
    except (ValueError, KeyError, TypeError):
        raise EngineError("the Docker engine's reply to an exec has no id") from None


def attach(
    path: str,
    container: str,
    argv: Sequence[str],
    user: str,
    tty: bool,
    workdir: str | None,
    preamble: bytes = b"",
) -> int:
    """Run argv in the container with this process's stdin, stdout and stderr (and terminal,
    with ``tty``); its exit code. ExecRefused before anything ran. ``preamble``: bytes the
    command reads before our stdin (tazpod's own header, tazpod.remote.sshd)."""
    if tty:
        argv = sized(argv)
    exec_id = create(path, container, argv, user, tty, workdir)
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    conn, first = docker_socket.hijack(path, f"/exec/{exec_id}/start", body)
    with conn:
        if preamble:
            conn.sendall(preamble)
        code = _terminal(path, exec_id, conn, first) if tty else _relay(conn, first, Demux())
    return code if code is not None else exit_code(path, exec_id)


# The engine makes the exec's terminal only as the command starts, so a size sent after the
# start arrives after the command may have read it (Docker before API 1.42 takes no size
# with the exec): the command's own terminal is given the size first, in the container.
_SIZED = 'stty rows "$1" cols "$2" 2>/dev/null; shift 2; exec "$@"'


def sized(argv: Sequence[str]) -> list[str]:
    """argv, started on a terminal of our terminal's size (later sizes: SIGWINCH)."""
    try:
        columns, lines = os.get_terminal_size(1)
    except OSError:
        return list(argv)
    return ["/bin/sh", "-c", _SIZED, "sh", str(lines), str(columns), *argv]


def _terminal(path: str, exec_id: str, conn: socket.socket, first: bytes) -> int | None:
    import termios
    import tty

    def resize(_signum: int, _frame: object) -> None:
        try:
            columns, lines = os.get_terminal_size(1)
            docker_socket.request(path, "POST", f"/exec/{exec_id}/resize?h={lines}&w={columns}")
        except (OSError, EngineError):
            pass  # a size that cannot be sent leaves the old one

    stdin = 0
    saved = termios.tcgetattr(stdin)
    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        tty.setraw(stdin)
        return _relay(conn, first, None)
    finally:
        termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)


def _relay(conn: socket.socket, first: bytes, demux: Demux | None) -> int | None:
    """Our stdin to the command, its output to ours, until the engine ends the stream.

    None when it ended; 141 when our stdout closed first (as a CLI killed by SIGPIPE).
    """
    reading = _readable(0)
    try:
        if first and not _write(first, demux):
            return 141
        while True:
            waiting: list[int | socket.socket] = [conn, 0] if reading else [conn]
            ready, _, _ = select.select(waiting, [], [])
            if 0 in ready:
                data = os.read(0, CHUNK)
                if data:
                    conn.sendall(data)
                else:
                    reading = False
                    if demux is not None:  # the end of our input is the end of the command's
                        conn.shutdown(socket.SHUT_WR)
            if conn in ready:
                data = conn.recv(CHUNK)
                if not data:
                    return None
                if not _write(data, demux):
                    return 141
    except ConnectionError as err:
        raise EngineError(f"the connection to the Docker engine broke off: {err}") from None


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False  # no stdin at all
    return True


def _write(data: bytes, demux: Demux | None) -> bool:
    pieces = demux.feed(data) if demux is not None else iter(((1, data),))
    try:
        for fd, piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]
    except BrokenPipeError:
        return False
    return True


def exit_code(path: str, exec_id: str) -> int:
    """The ended command's exit code (the engine records it a moment after the stream ends)."""
    deadline = time.monotonic() + _EXIT_WAIT
    delay = 0.002
    while True:
        status, body = docker_socket.request(path, "GET", f"/exec/{exec_id}/json")
        if status != 200:
            raise EngineError(f"the Docker engine has no exit code for the exec ({status})")
        state = json.loads(body)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        if time.monotonic() > deadline:
            raise EngineError("the command's stream ended, but the Docker engine says it runs")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
