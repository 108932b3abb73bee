"""One exclusive lock per vault: a second opener never mounts the same vault twice.

An flock on `.tazpod/vault/.lock`, held by the enclave's supervisor for the
enclave's whole life. The kernel drops it when that process dies, so a
crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from tazpod.errors import VaultError

LOCK_FILE = ".lock"


class FileLock:
    """An exclusive, non-blocking flock on one file (made 0600 if missing, never followed
    through a symbolic link)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            raise _explained(self.path, err) from None
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


class VaultLock(FileLock):
    def __init__(self, vault_dir: Path) -> None:
        super().__init__(vault_dir / LOCK_FILE)


class LockNotPermitted(VaultError):
    """This user may not create or open the lock (another user's vault, a read-only dir)."""


def _explained(path: Path, err: OSError) -> Exception:
    """The lock file cannot be opened: say why, with the fix (never an internal error)."""
    if err.errno == errno.ELOOP:
        return VaultError(
            f"{path} is a symbolic link; tazpod locks the vault only through a real file",
            hint=f"remove it (rm {path}): the next command makes a new one",
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        owner = path.parent.stat().st_uid if path.parent.exists() else None
        return LockNotPermitted(
            f"cannot create or open {path} ({err.strerror})"
            + (f"; {path.parent} belongs to uid {owner}" if owner is not None else ""),
            hint=f"the vault's directory must be writable by the vault's user: chown that user"
            f" {path.parent}",
        )
    return VaultError(f"cannot open {path}: {err.strerror or err}")


def is_locked(vault_dir: Path, strict: bool = False) -> bool:
    """True while an enclave holds this vault.

    From the kernel's lock table: looking never takes the lock, so it cannot make an
    enclave that is opening fail. The table leaves out holders in other pid namespaces
    (an enclave on the host, seen from a container): ``strict`` also tries the lock itself,
    for commands that destroy the vault, where a refused opener is the lesser harm.
    """
    from tazpod.sysio.procfs import flock_held

    path = vault_dir / LOCK_FILE
    if path.is_symlink():
        raise _explained(path, OSError(errno.ELOOP, "a symbolic link"))
    if flock_held(path):
        return True
    if not strict or not path.exists():
        return False
    probe = VaultLock(vault_dir)
    try:
        return not probe.try_acquire()
    except LockNotPermitted:
        return False  # not this user's to open: whoever holds it, it is not us
    finally:
        probe.release()
