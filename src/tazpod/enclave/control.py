"""The enclave's control socket: how commands inside the enclave reach its supervisor.

The socket lives in the vault's tmpfs (`<vault>/.tazpod/control.sock`), so it
exists only inside the enclave's mount namespace; the supervisor also checks
the peer's uid. One JSON request line, one JSON reply line. A `join` keeps the
connection open for as long as the joined session lives.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tazpod.errors import TazpodError, UsageError, VaultError
from tazpod.sysio.environ import enclave_vault

CONTROL_DIR = ".tazpod"
SOCKET_NAME = "control.sock"
OPS = ("status", "save", "lock", "join")


def socket_path(vault_dir: Path) -> Path:
    return vault_dir / CONTROL_DIR / SOCKET_NAME


def send_line(conn: socket.socket, payload: dict[str, Any]) -> None:
    conn.sendall(json.dumps(payload).encode() + b"\n")


def recv_line(conn: socket.socket, limit: int = 65536) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > limit:
            raise ValueError("control message too long")
    loaded = json.loads(data)
    if not isinstance(loaded, dict):
        raise ValueError("control message is not an object")
    return loaded


def connect(vault_dir: Path | None = None) -> socket.socket:
    """Connect to the supervisor of the enclave this process is in."""
    if vault_dir is None:
        vault = enclave_vault()
        if vault is None:
            raise UsageError(
                "not inside an enclave",
                hint="open one with `tazpod unlock`, or run a command in one with `tazpod run`",
            )
        vault_dir = Path(vault)
    path = socket_path(vault_dir)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError as err:
        conn.close()
        raise VaultError(
            f"cannot reach the enclave's supervisor at {path}: {err.strerror}",
            hint="the enclave may have ended; open a new one with `tazpod unlock`",
        ) from err
    return conn


def request(op: str, vault_dir: Path | None = None) -> dict[str, Any]:
    conn = connect(vault_dir)
    with conn:
        send_line(conn, {"op": op})
        reply = recv_line(conn)
    if reply is None:
        raise VaultError("the enclave's supervisor closed the connection without answering")
    if not reply.get("ok"):
        raise TazpodError(str(reply.get("message", "the enclave refused the request")))
    return reply
