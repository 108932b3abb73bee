"""The open enclave's door for root: joining it, or ending it, from outside.

The supervisor listens on ``/run/tazpod/enclave-<vault>.sock``: a socket in a
directory only root may enter, made while it holds the vault's lock, and answered only
for a peer whose uid is 0 (SO_PEERCRED). Nobody else can make a socket there, so a
stale record or a recycled pid can never pose as the enclave: a supervisor that died
leaves at most a socket nobody answers (ECONNREFUSED), and the next opener replaces it.

``namespaces`` hands the joiner descriptors of the enclave's namespaces (SCM_RIGHTS):
the joiner needs no access to the supervisor's /proc files (it is not dumpable, and
container root has no CAP_SYS_PTRACE). ``lock`` ends the enclave with a save, as
`tazpod lock` inside it does; ``status`` answers as the control socket does.

A vault's key (its lock's and its door's name) is the identity of its directory, taken
once by whoever opens or joins it (tazpod.project.paths.vault_key): a user who re-points
`.tazpod` through a link cannot give the same directory two keys. In a dev container,
which serves one project, root's `lock` and `lock --check` do not go by the project's
paths at all (the user writes them): every door in /run/tazpod is that project's.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

from tazpod.errors import VaultError
from tazpod.project import paths
from tazpod.sysio import procfs
from tazpod.vault.lock import FileLock

OPS = ("namespaces", "lock", "status")
_REPLY_LIMIT = 65536


def door_path(key: str) -> Path:
    return paths.RUNTIME_DIR / f"enclave-{key}.sock"


def doors(vault_dir: Path) -> list[Path]:
    """The doors an enclave of this vault would answer at: in a dev container every one
    there is (the container's one project), on a host the vault's own (none when there is
    no vault directory)."""
    if paths.in_container():
        return sorted(paths.RUNTIME_DIR.glob("enclave-*.sock"))
    key = paths.vault_key(vault_dir)
    return [] if key is None else [door_path(key)]


def private_runtime_dir() -> Path:
    """/run/tazpod as root's alone (made so; refused when it is anything else)."""
    directory = paths.RUNTIME_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(directory)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_mode & 0o077:
        os.chmod(directory, 0o700)  # root's own (the luks staging dir made it 0755)
        info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise VaultError(
            f"{directory} is not a directory only root can enter",
            hint=f"remove it (root makes it again, mode 0700): rm -r {directory}",
        )
    return directory


def opening_lock(key: str) -> FileLock:
    """Root's own lock on opening this vault, held by the supervisor from before the
    passphrase is asked until its enclave has ended.

    The vault's `.lock` lies in a directory the user writes: a same-uid process may rename
    it while an opener still waits for its passphrase (the door is not open yet), and a
    second opener would then open the vault a second time. Nobody but root can reach this
    one (/run/tazpod is root's alone), so whoever cannot take it joins instead."""
    return FileLock(private_runtime_dir() / f"enclave-{key}.lock")


def open_door(key: str) -> socket.socket:
    """As root, holding the vault's lock: listen on the enclave's door."""
    private_runtime_dir()
    path = door_path(key)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a killed supervisor's: the lock we hold says nobody serves it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(8)
    listener.setblocking(False)
    return listener


def close_door(listener: socket.socket, key: str) -> None:
    listener.close()
    with contextlib.suppress(FileNotFoundError):
        door_path(key).unlink()


def knock(door: Path, timeout: float = 30.0) -> socket.socket | None:
    """A connection to the open enclave's supervisor; None when no enclave answers."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(door))
    except OSError as err:
        conn.close()
        if err.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return None
        raise VaultError(
            f"cannot reach the enclave's supervisor at {door}: {err.strerror}",
            hint="this needs root (sudo, or `docker exec -u 0` in the container)",
        ) from err
    return conn


def answers(vault_dir: Path, timeout: float = 10.0) -> bool:
    """Whether an open enclave's supervisor answers at this vault's door (see ``doors``)."""
    for door in doors(vault_dir):
        conn = knock(door, timeout)
        if conn is not None:
            conn.close()
            return True
    return False


def ask(conn: socket.socket, op: str) -> tuple[dict[str, Any], list[int]]:
    """One request; the reply and the descriptors that came with it (the caller's now)."""
    conn.sendall(json.dumps({"op": op}).encode() + b"\n")
    data, fds, _flags, _addr = socket.recv_fds(conn, _REPLY_LIMIT, 4)
    try:
        while data and not data.endswith(b"\n") and len(data) < _REPLY_LIMIT:
            chunk = conn.recv(_REPLY_LIMIT)
            if not chunk:
                break
            data += chunk
        reply = json.loads(data) if data.endswith(b"\n") else None
    except (OSError, ValueError):
        reply = None
    if not isinstance(reply, dict):
        for fd in fds:
            os.close(fd)
        raise VaultError("the enclave's supervisor closed the connection without answering")
    return reply, list(fds)


def answer(conn: socket.socket, reply: dict[str, Any], fds: list[int] | None = None) -> None:
    payload = json.dumps(reply).encode() + b"\n"
    if fds:
        socket.send_fds(conn, [payload], fds)
    else:
        conn.sendall(payload)


def own_namespaces(user_namespace: bool) -> list[int]:
    """Descriptors of this process's namespaces a joiner enters: user (when the enclave
    has one of its own), then mount."""
    names = (["user"] if user_namespace else []) + ["mnt"]
    return [procfs.open_own_namespace(name) for name in names]
