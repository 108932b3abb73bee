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


PROC_LOCKS = Path("/proc/locks")


def flock_held(path: Path, source: Path = PROC_LOCKS) -> bool:
    """Whether any process holds an flock on ``path`` (read from the kernel's lock table,
    without taking the lock: a probe that took it could make a real opener fail)."""
    try:
        st = os.stat(path, follow_symlinks=False)
        table = source.read_text()
    except FileNotFoundError:
        return False
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 21119 fe:00:1557427 0 EOF" (a waiter: "1: -> FLOCK ...")
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return True
    return False
