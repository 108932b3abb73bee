"""Finding and ending processes by ancestry (/proc/<pid>/stat is readable by anyone).

The supervisor is a child subreaper, so every process started in the enclave
stays its descendant even when its parent dies: ancestry finds them all
without ptrace rights over the enclave's user namespace.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Iterable

PR_SET_CHILD_SUBREAPER = 36


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(roots: Iterable[int]) -> set[int]:
    parents = _parent_map()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def reap_children() -> dict[int, int]:
    """Collect every exited child without blocking: pid -> wait status."""
    statuses: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return statuses
        if pid == 0:
            return statuses
        statuses[pid] = status


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A zombie: every thread of it has ended. (A process whose main thread ended while
    another one runs shows "Z" in its own stat: its threads' states say it still runs.)"""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tasks = [str(pid)]
    seen = False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        seen = True
        if not stat[stat.rfind(b")") + 2 :].startswith(b"Z"):
            return False
    return seen


def terminate(
    roots: Iterable[int], first: int = signal.SIGTERM, grace: float = 3.0
) -> dict[int, int]:
    """Signal every descendant of ``roots``; SIGKILL what is left after ``grace`` seconds.

    Waits (bounded) until no descendant remains, reaping our own children, and
    returns their wait statuses.
    """
    roots = list(roots)
    reaped: dict[int, int] = {}
    _signal_all(descendants(roots), first)
    deadline = time.monotonic() + grace
    killed = False
    while True:
        reaped.update(reap_children())
        remaining = descendants(roots)
        if not remaining:
            return reaped
        living = {pid for pid in remaining if alive(pid)}
        now = time.monotonic()
        if living and (now >= deadline or killed):
            # every one left, zombie-looking or not: SIGKILL ends all of a process's threads
            # (and is nothing to a real zombie)
            _signal_all(remaining, signal.SIGKILL)
            killed = True
        if now >= deadline + 5.0:  # zombies of processes that are not ours to reap
            return reaped
        time.sleep(0.02)


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError as err:
            if err.errno != errno.ESRCH:
                raise


def exit_code(status: int) -> int:
    """A wait status as a shell exit code (128+N for a signal)."""
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
