"""Where things are at run time: container or host, the mount point, runtime records."""

from __future__ import annotations

import hashlib
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


def vault_key(vault_dir: Path) -> str:
    """A stable short id for a vault, from its real path."""
    return hashlib.sha256(str(vault_dir.resolve()).encode()).hexdigest()[:16]


def runtime_record(vault_dir: Path) -> Path:
    return RUNTIME_DIR / f"enclave-{vault_key(vault_dir)}.json"
