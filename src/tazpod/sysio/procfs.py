"""The few /proc files tazpod reads or writes outside process ancestry (see ``procs``).

Each one is named for what it is: the kernel's device majors, this process's own
namespaces, a descriptor of this process by path.
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


def open_own_namespace(kind: str) -> int:
    """A descriptor of this process's namespace ``kind`` (user, mnt), to hand a joiner."""
    return os.open(f"/proc/self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)


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


def id_maps(pid: int) -> tuple[str, str] | None:
    """A process's uid_map and gid_map (world-readable), or None when it is gone."""
    try:
        return (
            Path(f"/proc/{pid}/uid_map").read_text(),
            Path(f"/proc/{pid}/gid_map").read_text(),
        )
    except OSError:
        return None


FIRST_PROCESS_ENVIRON = Path("/proc/1/environ")


def environ_pairs(source: Path = FIRST_PROCESS_ENVIRON) -> list[tuple[str, str]]:
    """A process's environment (the container's first process's, by default) as (name,
    value) pairs; empty when it cannot be read."""
    try:
        raw = source.read_bytes()
    except OSError:
        return []
    pairs = []
    for item in raw.split(b"\0"):
        name, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            pairs.append((name, value))
    return pairs


def terminal_of(pid: int) -> tuple[int, int, int, int] | None:
    """(major, minor) of the process's controlling terminal, its process group and the
    terminal's foreground process group, from /proc/<pid>/stat; None when it has no
    terminal or is gone. (The kernel's tty_nr packs major and minor as below.)"""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "
    try:
        pgrp, tty_nr, tpgid = int(fields[2]), int(fields[4]), int(fields[5])
    except (IndexError, ValueError):
        return None
    if tty_nr == 0:
        return None
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    return major, minor, pgrp, tpgid
