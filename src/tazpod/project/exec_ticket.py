"""A ticket from the last full check, so that `tazpod exec` and `ssh` need not repeat it.

The full path (tazpod.cli.commands.ssh) finds the project, parses config.yaml and
secrets.yml, checks them against the host's approval, and looks the container up (a
tazpod container of this very project, running). Then it writes this ticket: what those
files were (lstat: device, inode, size, mode, mtime and ctime, which no user can set), the
approval file's, tazpod's version, the engine's socket, and the container's whole id and
user. The quick path (tazpod.cli.quick) compares the files with the ticket and runs the
command in that container by id; any difference or doubt, and the full path runs instead.

A ticket is the host user's alone: in their cache directory, 0600, owned by them, never
read through a symbolic link, and never inside the project, which the container writes
(a ticket there could name another container or user). This module imports only `os`
and `json`: it is on `exec`'s path.
"""

from __future__ import annotations

import json
import os
import stat
import zlib

from tazpod import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONFIG = os.path.join(".tazpod", "config.yaml")  # (project.config: CONFIG_DIR, CONFIG_FILE)
SECRETS = "secrets.yml"
_LIMIT = 64 * 1024


def find_root(start: str) -> str | None:
    """The nearest directory at or above ``start`` holding .tazpod/config.yaml (also
    tazpod.project.locate's walk: both paths find one root)."""
    directory = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(directory, CONFIG)):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def identity(path: str) -> list[int] | None:
    """What a file is, as far as any change to it shows; None when nothing is there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return [
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mode,
        info.st_mtime_ns,
        info.st_ctime_ns,
    ]


def ticket_path(root: str) -> str | None:
    """Where this project's ticket lives; None when that would be inside the project."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(cache, "tazpod")
    real_dir, real_root = os.path.realpath(directory), os.path.realpath(root)
    if real_dir == real_root or real_dir.startswith(real_root.rstrip("/") + "/"):
        return None
    return os.path.join(directory, f"exec-{zlib.crc32(root.encode()):08x}.json")


def facts(root: str, approval: str) -> dict[str, Any]:
    """What the project's settings and their approval are now (taken by the full path
    before it checks them, so that a change made during the check voids the ticket)."""
    return {
        "root": root,
        "version": __version__,
        "uid": os.geteuid(),
        "config": identity(os.path.join(root, CONFIG)),
        "secrets": identity(os.path.join(root, SECRETS)),
        "approval": identity(approval),
        "approval_path": approval,
    }


def write(seen: dict[str, Any], socket: str, container_id: str, user: str) -> None:
    """After a full check of the settings ``seen`` (``facts``) passed: the ticket for the
    next `exec`/`ssh` (a ticket that cannot be written only makes the next one slower)."""
    from tazpod.sysio.files import write_atomic

    where = ticket_path(seen["root"])
    if where is None or len(container_id) != 64:
        return
    ticket = {**seen, "socket": socket, "container": container_id, "user": user}
    try:
        os.makedirs(os.path.dirname(where), mode=0o700, exist_ok=True)
        from pathlib import Path

        write_atomic(Path(where), json.dumps(ticket).encode(), mode=0o600)
    except OSError:
        pass


def read(root: str, socket: str) -> tuple[str, str] | None:
    """(container id, user) when the ticket still holds for this project, else None."""
    where = ticket_path(root)
    if where is None:
        return None
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & 0o077
            or info.st_size > _LIMIT
        ):
            return None
        ticket = json.loads(os.read(fd, _LIMIT))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(ticket, dict):
        return None
    approval = ticket.get("approval_path")
    if not isinstance(approval, str) or ticket.get("config") is None:
        return None
    expected = {**facts(root, approval), "socket": socket}
    if any(ticket.get(key) != value for key, value in expected.items()):
        return None
    container, user = ticket.get("container"), ticket.get("user")
    if not isinstance(container, str) or not isinstance(user, str) or len(container) != 64:
        return None
    return container, user
