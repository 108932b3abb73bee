"""Sessions in the dev pod over the Kubernetes API's exec stream (a websocket).

Interactive sessions put the local terminal in raw mode, relay keystrokes and
output, follow window-size changes (SIGWINCH -> the resize channel) and end
with the remote exit code (from the error channel). The stream protocol that
Kubernetes 1.20+ speaks (v4) cannot close stdin, so data sent to a command is
framed by the caller (see tazpod.engines.kubernetes.workspace) rather than ended by EOF.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from tazpod.engines.kubernetes.diagnose import explain_api_error
from tazpod.engines.kubernetes.manifest import CONTAINER
from tazpod.errors import EngineError

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CHUNK = 64 * 1024


class PodApi(Protocol):
    """What a stream needs of the engine (tazpod.engines.kubernetes.engine.KubernetesEngine)."""

    k8s: Any  # the kubernetes package, for its ApiException
    core: Any  # a CoreV1Api
    namespace: str


def open_stream(engine: PodApi, name: str, argv: Sequence[str], tty: bool, stdin: bool) -> Any:
    from kubernetes.stream import stream

    try:
        return stream(
            engine.core.connect_get_namespaced_pod_exec,
            name,
            engine.namespace,
            container=CONTAINER,
            command=list(argv),
            stdin=stdin,
            stdout=True,
            stderr=not tty,
            tty=tty,
            binary=True,
            _preload_content=False,
        )
    except engine.k8s.client.ApiException as err:
        raise explain_api_error(f"exec in pod {name}", err, engine.namespace) from err
    except Exception as err:  # the websocket layer raises its own exception types
        status = getattr(err, "status", None)
        if status == 403:
            raise EngineError(
                f"Kubernetes refused to exec in pod {name} (pods/exec, create)",
                hint=f"the account needs pods/exec create in namespace {engine.namespace}",
            ) from err
        raise EngineError(f"cannot exec in pod {name}: {err}") from err


def _exit_code(ws: Any) -> int:
    raw = ws.read_channel(ERROR)
    if not raw:
        return 0 if not ws.is_open() else 1
    return _status_code(raw)


def _status_code(raw: bytes | str) -> int:
    status = json.loads(raw)
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1))
    sys.stderr.write(f"tazpod: {status.get('message', 'the command failed')}\n")
    return 126


def _pump(ws: Any, timeout: float) -> bool:
    """Move whatever arrived to our stdout/stderr; False once the stream has ended."""
    ws.update(timeout=timeout)
    for channel, target in ((STDOUT, sys.stdout), (STDERR, sys.stderr)):
        data = ws.read_channel(channel)
        if data:
            target.buffer.write(data)
            target.buffer.flush()
    return bool(ws.is_open())


def _send_size(ws: Any) -> None:
    with contextlib.suppress(OSError):
        columns, lines = os.get_terminal_size(sys.stdout.fileno())
        ws.write_channel(RESIZE, json.dumps({"Width": columns, "Height": lines}))


@contextlib.contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _interactive(ws: Any) -> int:
    resized = [True]
    previous = signal.signal(signal.SIGWINCH, lambda _s, _f: resized.__setitem__(0, True))
    fd = sys.stdin.fileno()
    try:
        with _raw_terminal(fd):
            while ws.is_open():
                if resized[0]:
                    resized[0] = False
                    _send_size(ws)
                try:
                    ready, _, _ = select.select([fd, ws.sock.sock], [], [], 0.5)
                except InterruptedError:
                    continue
                if fd in ready:
                    data = os.read(fd, CHUNK)
                    if not data:
                        break
                    ws.write_stdin(data)
                _pump(ws, 0)
    finally:
        signal.signal(signal.SIGWINCH, previous)
    return _exit_code(ws)


def run_session(
    engine: PodApi,
    name: str,
    argv: Sequence[str],
    tty: bool,
    stdin_data: bytes | None = None,
) -> int:
    """Run argv in the pod; the exit code passes through."""
    ws = open_stream(engine, name, argv, tty, stdin=tty or stdin_data is not None)
    try:
        if tty:
            return _interactive(ws)
        if stdin_data:
            ws.write_stdin(stdin_data)
        while _pump(ws, 1.0):
            pass
        return _exit_code(ws)
    finally:
        ws.close()


def piped_stdin() -> bool:
    """Whether this process's stdin is data to pass on (a pipe, a file, a socket)."""
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def run_relayed(engine: PodApi, name: str, argv: Sequence[str], preamble: bytes = b"") -> int:
    """argv (under the pod's stdin relay) with this process's stdin sent in frames, as it
    comes, then the end frame; the command's output and exit code pass through. An
    input that never ends does not hold the session: it ends with the command.
    ``preamble``: bytes the command reads before our stdin."""
    from tazpod.engines.kubernetes.relay import CHUNK as FRAME
    from tazpod.engines.kubernetes.relay import END, frame

    ws = open_stream(engine, name, argv, tty=False, stdin=True)
    fd = sys.stdin.fileno()
    reading = True
    try:
        if preamble:
            ws.write_stdin(frame(preamble))
        while ws.is_open():
            waiting = [ws.sock.sock, *([fd] if reading else [])]
            try:
                ready, _, _ = select.select(waiting, [], [], 0.5)
            except InterruptedError:
                continue
            if fd in ready:
                data = os.read(fd, FRAME)
                reading = bool(data)
                with contextlib.suppress(Exception):  # the command may be gone already
                    ws.write_stdin(frame(data) if data else END)
            _pump(ws, 0)
        return _exit_code(ws)
    finally:
        ws.close()


def run_capture(
    engine: PodApi, name: str, argv: Sequence[str], stdin_data: bytes = b""
) -> tuple[int, bytes, bytes]:
    """Run argv in the pod with stdin_data sent in chunks; returns (code, stdout, stderr)."""
    ws = open_stream(engine, name, argv, tty=False, stdin=bool(stdin_data))
    out, err = bytearray(), bytearray()
    try:
        for start in range(0, len(stdin_data), CHUNK):
            ws.write_stdin(stdin_data[start : start + CHUNK])
        while ws.is_open():
            ws.update(timeout=1.0)
            out += ws.read_channel(STDOUT)
            err += ws.read_channel(STDERR)
        return _exit_code(ws), bytes(out), bytes(err)
    finally:
        ws.close()


class OutputStream:
    """A pod command's standard output as a file to read, frame by frame as it arrives.

    The client's own buffering (WSClient.update) keeps a second copy of everything a
    command prints and waits on a timeout between frames; a large `workspace pull` then
    took minutes per hundred MB and memory of its size. Here every frame is read straight
    from the websocket and handed on: time linear in the size, memory bounded.
    """

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._buffer = bytearray()
        self.stderr = bytearray()  # its last 64 KiB
        self._status = bytearray()
        self._ended = False

    def _frame(self) -> None:
        from websocket import ABNF, WebSocketException

        try:
            opcode, frame = self._ws.sock.recv_data_frame(True)
        except (WebSocketException, OSError) as err:
            raise EngineError(f"the exec stream from the pod broke: {err}") from err
        if opcode == ABNF.OPCODE_CLOSE:
            self._ended = True
            return
        data = frame.data if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) else b""
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        channel, payload = data[0], data[1:]
        if channel == STDOUT:
            self._buffer += payload
        elif channel == STDERR:
            self.stderr += payload
            del self.stderr[: -64 * 1024]
        elif channel == ERROR:
            self._status += payload

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            self._frame()
        count = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        return out

    def finish(self) -> int:
        """Read to the end (what is left of stdout is dropped); the command's exit code."""
        while not self._ended:
            self._frame()
            self._buffer.clear()
        return _status_code(bytes(self._status)) if self._status else 0


@contextlib.contextmanager
def output_of(engine: PodApi, name: str, argv: Sequence[str]) -> Iterator[OutputStream]:
    ws = open_stream(engine, name, argv, tty=False, stdin=False)
    try:
        yield OutputStream(ws)
    finally:
        ws.close()


class PodLifeline:
    """`tazpod lock --on-hangup` in the pod, on an exec stream this process holds open.

    The exec protocol cannot close a command's stdin, but the end of the connection does:
    however this process ends (returning, a signal, kill -9, the network), the API server
    and the kubelet close the command's stdin when the stream goes, and the enclave it
    guards is saved and closed. ``release`` says "done" first (a planned end).
    """

    def __init__(self, engine: PodApi, name: str, argv: Sequence[str]) -> None:
        self._ws = open_stream(engine, name, argv, tty=False, stdin=True)

    def release(self, word: bytes) -> None:
        with contextlib.suppress(Exception):  # the websocket layer's own exception types
            self._ws.write_stdin(word)
        self.cut()

    def cut(self) -> None:
        with contextlib.suppress(Exception):
            self._ws.close()

    def wait(self, timeout: float) -> int | None:
        return None  # its output went with the stream; the enclave's own session reports
