"""One exclusive lock per vault: a second opener never mounts the same vault twice.

An flock on `.tazpod/vault/.lock`, held by the enclave's supervisor for the
enclave's whole life. The kernel drops it when that process dies, so a
crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"


class VaultLock:
    def __init__(self, vault_dir: Path) -> None:
        self.path = vault_dir / LOCK_FILE
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def is_locked(vault_dir: Path) -> bool:
    """True while an enclave holds this vault (probing takes and drops the lock)."""
    if not (vault_dir / LOCK_FILE).exists():
        return False
    probe = VaultLock(vault_dir)
    try:
        if probe.try_acquire():
            return False
    except PermissionError:
        return False
    finally:
        probe.release()
    return True
