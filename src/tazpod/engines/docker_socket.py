"""The Docker engine's hot paths without the Docker SDK: HTTP on its Unix socket.

Importing the SDK costs ~130 ms (requests, urllib3, ...), more than `docker exec` itself.
`tazpod exec`, `ssh` and the forwarded enclave commands need to know whether the
project's container runs: one request here. `exec` and `ssh` then run their command
through the exec API (tazpod.engines.docker_exec, on a connection ``hijack`` hands over);
the forwarded enclave commands through the docker CLI. Anything else (a TCP or SSH
DOCKER_HOST) uses the SDK. This module imports no dataclasses: it is on `exec`'s path.
"""

from __future__ import annotations

import json
import os
import socket

from tazpod.errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from tazpod.engines.base import ContainerInfo

DEFAULT_SOCKET = "/var/run/docker.sock"
_MAX_REPLY = 16 * 1024 * 1024
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def socket_path() -> str | None:
    """The engine's Unix socket, or None when DOCKER_HOST points elsewhere."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    return host[len("unix://") :] if host.startswith("unix://") else None


def quote(name: str, safe: bytes = b"") -> str:
    """Percent-encoding of one path segment (urllib.parse costs this path ~3 ms); an image
    name keeps its `/` and `:` (``safe``), as docker-py and the docker CLI send them (the
    engine's route for images takes the rest of the path as the name)."""
    kept = _UNRESERVED | frozenset(safe)
    return "".join(chr(b) if b in kept else f"%{b:02X}" for b in name.encode())


def _connect(path: str, timeout: float | None = 10) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
    except OSError as err:
        conn.close()
        from tazpod.engines.hints import unreachable_hint

        reason = err.strerror or str(err)
        raise EngineError(
            f"cannot reach the Docker engine at {path}: {reason}", hint=unreachable_hint(reason)
        ) from None
    return conn


def _request_head(method: str, target: str, body: bytes | None, extra: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.0\r\nHost: docker\r\n{extra}"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    elif method != "GET":
        head += "Content-Length: 0\r\n"
    return (head + "\r\n").encode() + (body or b"")


def request(path: str, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One HTTP/1.0 request on the engine's Unix socket: (status, body).

    HTTP/1.0 asks the engine (Go's net/http) to close the connection after the reply,
    so the body is everything up to the end (http.client and its email parsers would
    cost more than the rest of `tazpod exec`). A chunked reply is decoded all the same.
    """
    with _connect(path) as conn:
        try:
            conn.sendall(_request_head(method, target, body))
            chunks, size = [], 0
            while size <= _MAX_REPLY:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as err:
            raise EngineError(
                f"the Docker engine at {path} broke off: {err.strerror or err}"
            ) from None
    return _parse_reply(b"".join(chunks), path)


def get(path: str, target: str) -> tuple[int, bytes]:
    return request(path, "GET", target)


def hijack(path: str, target: str, body: bytes) -> tuple[socket.socket, bytes]:
    """POST ``target`` asking the engine to hand the connection over to a raw stream (as
    `docker exec` does): the connection, and the stream's first bytes already read."""
    conn = _connect(path, timeout=None)
    try:
        conn.sendall(_request_head("POST", target, body, "Connection: Upgrade\r\nUpgrade: tcp\r\n"))
        received = b""
        while b"\r\n\r\n" not in received and len(received) < 65536:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
        if status not in (b"101", b"200"):
            code, reply = _parse_reply(received, path)
            raise EngineError(f"the Docker engine refused the exec ({code}): {message(reply)}")
    except BaseException:
        conn.close()
        raise
    return conn, rest


def message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", "no message"))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()[:300] or "no message"


def _parse_reply(reply: bytes, path: str) -> tuple[int, bytes]:
    head, separator, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if (
        not separator
        or len(parts) < 2
        or not parts[0].startswith("HTTP/")
        or not parts[1].isdigit()
    ):
        raise EngineError(f"the Docker engine at {path} sent a reply that is not HTTP")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body, path)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return int(parts[1]), body


def _unchunk(body: bytes, path: str) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        try:
            size = int(body[pos:end].split(b";", 1)[0], 16) if end >= 0 else -1
        except ValueError:
            size = -1
        if size < 0:
            raise EngineError(f"the Docker engine at {path} sent a damaged reply")
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def inspect(path: str, name: str) -> ContainerInfo | None:
    from tazpod.engines.base import ContainerInfo

    status, body = get(path, f"/containers/{quote(name)}/json")
    if status == 404:
        return None
    if status != 200:
        raise EngineError(f"the Docker engine answered {status} for {name}")
    data = json.loads(body)
    config = data.get("Config") or {}
    return ContainerInfo(
        name=str(data.get("Name", name)).lstrip("/"),
        id=str(data.get("Id", ""))[:12],
        state=str((data.get("State") or {}).get("Status", "")),
        image=str(config.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
        pid=int((data.get("State") or {}).get("Pid") or 0),
        full_id=str(data.get("Id", "")),
    )


def exec_argv(
    name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
) -> list[str]:
    from tazpod.engines.base import exec_command
    from tazpod.sysio.tools import find_tool

    cli = find_tool("docker", on_path=True)  # the user's own client, on the host
    if cli is None:
        raise EngineError(
            "the docker command-line client is needed for interactive sessions",
            hint="install it (Debian/Ubuntu: docker.io or docker-ce-cli)",
        )
    return exec_command(cli, name, argv, user, tty, workdir)


class DockerSocketLookup:
    """The Docker engine as sessions need it, from its socket alone: `find` and `exec_argv`.

    What `get_session_engine` hands out instead of the full DockerEngine (and its SDK).
    """

    name = "docker"

    def __init__(self, path: str) -> None:
        self.path = path

    def find(self, container: str) -> ContainerInfo | None:
        return inspect(self.path, container)

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        return exec_argv(name, argv, user, tty, workdir)

    def attach(
        self,
        container: str,
        argv: Sequence[str],
        user: str,
        tty: bool,
        workdir: str | None,
        preamble: bytes = b"",
    ) -> int:
        """An interactive session or command through the exec API (no docker CLI)."""
        from tazpod.engines.docker_exec import attach

        return attach(self.path, container, argv, user, tty, workdir, preamble)
