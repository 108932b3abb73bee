"""The mount table as this process sees it (/proc/self/mountinfo)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    source: str
    options: str


def mount_table(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Mount]:
    mounts: list[Mount] = []
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        mounts.append(Mount(_unescape(fields[4]), tail[0], _unescape(tail[1]), fields[5]))
    return mounts


def is_mount_point(path: str, mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Exact path match against the mount table: `/a/b` is not `/a/bc`."""
    return any(m.mount_point == path for m in mount_table(mountinfo))


def mounts_under(path: str, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """Mount points at or below ``path``, deepest first (the order to unmount)."""
    prefix = path.rstrip("/") + "/"
    found = [m.mount_point for m in mount_table(mountinfo)]
    inside = [p for p in found if p == path or p.startswith(prefix)]
    return sorted(set(inside), key=lambda p: p.count("/"), reverse=True)


def is_anchor(path: str, mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """Whether the top mount at ``path`` is a read-only tmpfs: what the engine mounts, at
    tazpod's request, on the vault's mount point and each bridge in a dev container.

    A directory that is a mount point cannot be renamed or removed in that mount
    namespace, nor in any namespace copied from it (EBUSY; the copies' mounts are locked):
    a user who could rename their own ~/secrets would move an enclave's mount out from
    under the path its processes use, and put a directory of their own in its place.
    """
    top = [m for m in mount_table(mountinfo) if m.mount_point == path]
    return bool(top) and top[-1].fstype == "tmpfs" and "ro" in top[-1].options.split(",")
