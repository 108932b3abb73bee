"""What `tazpod doctor` reads of the kernel and the file system (read-only, no privileges).

Each reader returns plain data or None when the fact cannot be read; the checks decide
what a missing fact means.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

PROC_SWAPS = Path("/proc/swaps")
PROC_SYS = Path("/proc/sys")
PROC_FILESYSTEMS = Path("/proc/filesystems")
CGROUP_V2_MARKER = Path("/sys/fs/cgroup/cgroup.controllers")


@dataclass(frozen=True)
class Swap:
    device: str  # as /proc/swaps names it (/dev/dm-1, /dev/zram0, /swapfile)
    kind: str  # partition or file
    size_kib: int


def swaps(source: Path = PROC_SWAPS) -> list[Swap] | None:
    """The active swap areas; None when /proc/swaps cannot be read."""
    try:
        lines = source.read_text().splitlines()[1:]  # after the header
    except OSError:
        return None
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            found.append(Swap(fields[0], fields[1], int(fields[2])))
    return found


def is_device_mapper(device: str) -> bool:
    """Whether a swap device is a device-mapper one (dm-crypt's, as a rule)."""
    name = os.path.basename(os.path.realpath(device))
    return name.startswith("dm-")


def sysctl(name: str, root: Path = PROC_SYS) -> str | None:
    """A kernel setting by its dotted name (kernel.yama.ptrace_scope), or None."""
    try:
        return (root / name.replace(".", "/")).read_text().strip()
    except OSError:
        return None


def filesystems(source: Path = PROC_FILESYSTEMS) -> set[str] | None:
    try:
        return {line.split()[-1] for line in source.read_text().splitlines() if line.strip()}
    except OSError:
        return None


def cgroup_v2() -> bool:
    return CGROUP_V2_MARKER.exists()


def process_status(pid: int | str = "self") -> dict[str, str] | None:
    """/proc/<pid>/status as name -> value (CapBnd, Seccomp, NoNewPrivs), or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


@dataclass(frozen=True)
class Entry:
    path: Path
    mode: int  # the permission bits
    uid: int
    gid: int
    kind: str  # file, directory, link, other


def tree(directory: Path, depth: int = 2) -> list[Entry] | None:
    """``directory`` and what is in it (``depth`` levels), never following a link;
    None when the directory is not there."""
    try:
        top = os.lstat(directory)
    except FileNotFoundError:
        return None
    found = [_entry(directory, top)]
    if found[0].kind == "directory" and depth > 0:
        for child in sorted(directory.iterdir()):
            try:
                info = os.lstat(child)
            except FileNotFoundError:
                continue
            found.append(_entry(child, info))
            if stat.S_ISDIR(info.st_mode):
                found += (tree(child, depth - 1) or [])[1:]
    return found


def _entry(path: Path, info: os.stat_result) -> Entry:
    if stat.S_ISLNK(info.st_mode):
        kind = "link"
    elif stat.S_ISDIR(info.st_mode):
        kind = "directory"
    elif stat.S_ISREG(info.st_mode):
        kind = "file"
    else:
        kind = "other"
    return Entry(path, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, kind)


def owner(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_uid, info.st_gid
