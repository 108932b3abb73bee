"""Run as an attacker identity: try every way to reach an enclave's secret, print JSON.

Usage: probe.py PID SECRET_PATH MOUNT_POINT SECRET_VALUE
Each check reports "denied" or "absent" (refused or nothing there), "readable"
(access granted, secret not seen) or "leaked" (the secret value was seen).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from collections.abc import Callable

PTRACE_ATTACH, PTRACE_DETACH = 16, 17


def ptrace(pid: int) -> bytes:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        return b"attached"
    errno = ctypes.get_errno()
    raise OSError(errno, os.strerror(errno))


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def tree(path: str) -> bytes:
    """Everything readable below a directory, concatenated."""
    os.listdir(path)  # os.walk would hide a refusal
    found = b""
    for directory, _dirs, files in os.walk(path):
        found += directory.encode()
        for name in files:
            found += name.encode() + read(os.path.join(directory, name))
    if not found or found == path.encode():
        raise FileNotFoundError(path)
    return found


def fd_targets(pid: int) -> bytes:
    """Open every descriptor: listing their numbers alone reveals nothing."""
    found = b""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = f"/proc/{pid}/fd/{fd}"
        found += os.readlink(target).encode()
        if os.path.isfile(target):
            found += read(target)
    return found


def mem(pid: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb"):
        return b"opened"


def attempt(action: Callable[[], bytes], secret: bytes) -> str:
    try:
        result = action()
    except PermissionError:
        return "denied"
    except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
        return "absent"
    except OSError as err:
        return "denied" if err.errno in (1, 13) else f"error:{err.errno}"
    return "leaked" if secret in result else "readable"


def main() -> None:
    pid, secret_path, mount_point = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    secret = sys.argv[4].encode()
    checks: dict[str, Callable[[], bytes]] = {
        "file": lambda: read(secret_path),
        "directory": lambda: tree(mount_point),
        "proc_root": lambda: read(f"/proc/{pid}/root{secret_path}"),
        "proc_cwd": lambda: tree(f"/proc/{pid}/cwd/"),
        "proc_environ": lambda: read(f"/proc/{pid}/environ"),
        "proc_fd": lambda: fd_targets(pid),
        "proc_mem": lambda: mem(pid),
        "ptrace": lambda: ptrace(pid),
    }
    print(json.dumps({name: attempt(check, secret) for name, check in checks.items()}))


main()
