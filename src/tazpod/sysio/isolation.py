"""The routes by which a process outside an enclave could reach into it, each tried once.

Run by `tazpod doctor-probe` in the container as an identity that must get nothing (the
container's user outside the enclave, another uid). Every attempt answers only whether
the kernel let it through: "refused" or "allowed" (or "absent": nothing there to reach).
Nothing read is kept or shown: the answer is the point, never the content.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

REFUSED = "refused"
ALLOWED = "allowed"
ABSENT = "absent"
PTRACE_SEIZE = 0x4206  # attaches without stopping the process (PTRACE_ATTACH would)


def _proc(pid: int, name: str) -> str:
    return f"/proc/{pid}/{name}"


def _listed(path: str) -> bool:
    """Whether ``path`` lists anything (an empty directory shows nothing of the vault)."""
    return bool(os.listdir(path))


def mount_point_listing(mount_point: str) -> Callable[[], bool]:
    return lambda: _listed(mount_point)


def proc_root(pid: int, mount_point: str) -> Callable[[], bool]:
    # Through /proc/<pid>/root the enclave's own mount namespace shows: getting in at
    # all is the leak, whether or not its vault is there.
    return lambda: os.listdir(_proc(pid, "root") + mount_point) is not None


def proc_cwd(pid: int) -> Callable[[], bool]:
    return lambda: os.listdir(_proc(pid, "cwd")) is not None


def proc_environ(pid: int) -> Callable[[], bool]:
    def attempt() -> bool:
        with open(_proc(pid, "environ"), "rb") as handle:
            handle.read(1)
        return True

    return attempt


def proc_fd(pid: int) -> Callable[[], bool]:
    """Where the descriptors lead: their numbers alone (a same-uid listing) reveal nothing."""

    def attempt() -> bool:
        names = os.listdir(_proc(pid, "fd"))
        for name in names:
            os.readlink(f"{_proc(pid, 'fd')}/{name}")
            return True
        return False  # no descriptor to follow

    return attempt


def proc_mem(pid: int) -> Callable[[], bool]:
    def attempt() -> bool:
        with open(_proc(pid, "mem"), "rb"):
            return True

    return attempt


def ptrace(pid: int) -> Callable[[], bool]:
    """PTRACE_SEIZE: the kernel's ptrace access check, without stopping the process (the
    kernel detaches it when this short-lived process exits)."""

    def attempt() -> bool:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        libc.ptrace.restype = ctypes.c_long
        if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
            return True
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))

    return attempt


def attempt(action: Callable[[], bool]) -> str:
    """refused, allowed, or absent (nothing there: a gone process, an empty directory)."""
    try:
        reached = action()
    except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
        return ABSENT
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM):
            return REFUSED
        if err.errno == errno.ESRCH:
            return ABSENT
        return f"error {errno.errorcode.get(err.errno or 0, err.errno)}"
    return ALLOWED if reached else ABSENT


def processes_of(pids: list[int]) -> dict[int, int]:
    """pid -> real uid, for the pids still there (/proc/<pid>/status is anyone's to read)."""
    found = {}
    for pid in pids:
        try:
            with open(_proc(pid, "status")) as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        found[pid] = int(line.split()[1])
                        break
        except OSError:
            continue
    return found
