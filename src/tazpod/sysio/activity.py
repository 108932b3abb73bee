"""What an enclave's auto-lock watches: its processes' CPU time and its terminals' input.

Read by the supervisor (root). /proc/<pid>/stat is readable by anyone and names each
process's parent, CPU time and controlling terminal (no ptrace rights over the enclave's
user namespace needed). A terminal is looked at, and written to, only under /dev/pts or
as a virtual console in /dev (root's directories: no user makes names there), never
through a link, and only when the file found is the character device the process's stat
names. Linux sets a terminal's access time when a program reads input from it (at
8-second granularity): that is the input time (what `w` shows as IDLE).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_PTS_MAJORS = range(136, 144)  # UNIX98 pty slaves: /dev/pts/<(major - 136) * 256 + minor>
_CONSOLE_MAJOR = 4  # /dev/tty1 .. /dev/tty63 (minor 0 is the current console, 64+ serial)

Device = tuple[int, int]  # (major, minor)


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    started: int  # clock ticks after boot: with the pid, one process (pids are reused)
    cpu_ticks: int  # utime + stime + cutime + cstime (reaped children's time included)
    terminal: Device | None  # the controlling terminal


@dataclass(frozen=True)
class TerminalState:
    device: Device
    owner: int  # uid owning the device file
    input_at: float  # access time: the last read of input, to 8 s


def _parse_stat(pid: int, raw: bytes) -> tuple[int, ProcessStat] | None:
    """(parent pid, the process) from one /proc/<pid>/stat, or None if malformed."""
    fields = raw[raw.rfind(b")") + 2 :].split()  # after "pid (comm) ": comm may hold anything
    try:
        ppid, tty_nr = int(fields[1]), int(fields[4])
        ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))
        started = int(fields[19])
    except (IndexError, ValueError):
        return None
    terminal = None
    if tty_nr:
        terminal = ((tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00))
    return ppid, ProcessStat(pid, started, ticks, terminal)


def _read_all(proc: Path) -> dict[int, tuple[int, ProcessStat]]:
    found: dict[int, tuple[int, ProcessStat]] = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            raw = (proc / entry / "stat").read_bytes()
        except OSError:
            continue  # gone meanwhile
        parsed = _parse_stat(int(entry), raw)
        if parsed is not None:
            found[int(entry)] = parsed
    return found


def process_tree(
    roots: list[int], proc: Path = _PROC
) -> tuple[list[ProcessStat], list[ProcessStat]]:
    """The roots that still run, and every descendant of theirs: one pass over /proc."""
    table = _read_all(proc)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _process) in table.items():
        children.setdefault(ppid, []).append(pid)
    below: list[ProcessStat] = []
    seen: set[int] = set(roots)
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                below.append(table[child][1])
                stack.append(child)
    return [table[pid][1] for pid in roots if pid in table], below


def terminal_path(device: Device) -> str | None:
    """Where a terminal device lives in /dev, for the kinds a person types on; else None."""
    major, minor = device
    if major in _PTS_MAJORS:
        return f"/dev/pts/{(major - _PTS_MAJORS.start) * 256 + minor}"
    if major == _CONSOLE_MAJOR and 1 <= minor <= 63:
        return f"/dev/tty{minor}"
    return None


def _is_device(info: os.stat_result, device: Device) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(*device)


def terminal_state(device: Device) -> TerminalState | None:
    """The terminal's owner and last input time, or None when it is not there (as named)."""
    path = terminal_path(device)
    if path is None:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not _is_device(info, device):
        return None
    return TerminalState(device, info.st_uid, info.st_atime)


def tell(device: Device, text: str) -> bool:
    """Write ``text`` to a terminal (never blocking, never making it ours); False if not."""
    path = terminal_path(device)
    if path is None:
        return False
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        if not _is_device(os.fstat(fd), device):
            return False
        os.write(fd, text.encode())
        return True
    except OSError:  # a stopped (EAGAIN) or hung-up (EIO) terminal: a warning is not worth more
        return False
    finally:
        os.close(fd)
