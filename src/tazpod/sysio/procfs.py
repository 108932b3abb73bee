"""The few /proc files tazpod reads or writes outside process ancestry (see ``procs``).

Each one is named for what it is: the kernel's device majors, a process's mount
namespace, a child's user-namespace id maps, a descriptor of this process by path.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC_DEVICES = Path("/proc/devices")


def device_majors(source: Path = PROC_DEVICES) -> dict[str, int]:
    """Driver name -> major number, as the running kernel registered them (first wins)."""
    majors: dict[str, int] = {}
    for line in source.read_text().splitlines():
        number, _, name = line.strip().partition(" ")
        if number.isdigit():
            majors.setdefault(name, int(number))
    return majors


def open_mount_namespace(pid: int | str) -> int:
    """A descriptor of ``pid``'s mount namespace (for setns); holding it keeps it alive.

    FileNotFoundError when the process is gone.
    """
    return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)


def write_id_maps(pid: int, mapping: str) -> None:
    """The same uid and gid map for ``pid``'s new user namespace (written once, by its parent)."""
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as handle:
            handle.write(mapping)


def fd_path(fd: int) -> str:
    """A path that opens this process's descriptor ``fd`` (also for a child it is passed to)."""
    return f"/proc/self/fd/{fd}"
