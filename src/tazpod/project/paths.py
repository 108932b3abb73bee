"""Where things are at run time: container or host, the mount point, runtime records."""

from __future__ import annotations

import os
from pathlib import Path

from tazpod.sysio import environ

RUNTIME_DIR = Path(os.environ.get("TAZPOD_RUNTIME_DIR", "/run/tazpod"))


def user_cache_dir() -> Path:
    """tazpod's per-user cache: parsed configs, the verticals' verified tools."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tazpod"


def in_container() -> bool:
    """True inside a tazpod dev container (the one answer is tazpod.sysio.environ's)."""
    return environ.in_container()


def expand_home(path: str, home: Path) -> Path:
    """`~/x` relative to the enclave user's home (not root's, under sudo)."""
    if path == "~":
        return home
    if path.startswith("~/"):
        return home / path[2:]
    return Path(path)


def mount_point(configured: str | None, home: Path) -> Path:
    """Default: ~/secrets of the enclave user (/home/tazpod/secrets in the container)."""
    return expand_home(configured or "~/secrets", home)


def vault_key(vault_dir: Path) -> str | None:
    """A short id for a vault: the identity of its directory (device and inode), not its
    path, which the user can point elsewhere through a link while root uses it (the
    enclave's lock and door must be the same for everyone who reaches that directory).
    None when there is no such directory."""
    try:
        info = os.stat(vault_dir)
    except (FileNotFoundError, NotADirectoryError):
        return None
    import hashlib

    return hashlib.sha256(f"{info.st_dev}:{info.st_ino}".encode()).hexdigest()[:16]
