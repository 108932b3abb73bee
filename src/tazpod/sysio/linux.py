"""Linux system calls that Python 3.11's os module lacks, through ctypes.

unshare/setns arrive in os only in 3.12; mount, umount2 and prctl never did.
Each wrapper raises OSError with errno, like the os module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

AT_FDCWD = -100
RENAME_EXCHANGE = 1 << 1

MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str, path: str | None = None) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        if path is None:
            raise OSError(errno, f"{what}: {os.strerror(errno)}")
        raise OSError(errno, f"{what}: {os.strerror(errno)}", path)


def unshare(flags: int) -> None:
    _check(_libc().unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(
    source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    result = _libc().mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(result, "mount", target)


def umount(target: str, flags: int = UMOUNT_NOFOLLOW) -> None:
    _check(_libc().umount2(target.encode(), ctypes.c_int(flags)), "umount", target)


def exchange(first: str, second: str) -> None:
    """Swap two names atomically (renameat2 RENAME_EXCHANGE); EINVAL where unsupported."""
    result = _libc().renameat2(
        ctypes.c_int(AT_FDCWD),
        first.encode(),
        ctypes.c_int(AT_FDCWD),
        second.encode(),
        ctypes.c_uint(RENAME_EXCHANGE),
    )
    _check(result, "renameat2", first)


def syncfs(fd: int) -> None:
    _check(_libc().syncfs(ctypes.c_int(fd)), "syncfs")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    result = _libc().prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg2),
        ctypes.c_ulong(arg3),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(result, "prctl")


def forbid_core_dumps(dumpable: bool = True) -> None:
    """A hard RLIMIT_CORE of 0 (raising it back needs CAP_SYS_RESOURCE, which no process of
    the user has, not even through prlimit(2) on this one), and unless ``dumpable`` this
    process is also marked non-dumpable (execve resets that flag, the limit stays)."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not dumpable:
        prctl(PR_SET_DUMPABLE, 0)
