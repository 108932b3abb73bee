"""A process that undoes bind mounts in this mount namespace when its owner is gone.

Root on a host binds the places an enclave mounts on onto themselves while it is open
(tazpod.enclave.session): a mount point cannot be renamed away. The supervisor then
leaves this namespace, and may die without warning; the keeper stays behind, told each
held place through a pipe, and undoes them when the pipe closes, however that happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from tazpod.sysio import linux


class Keeper:
    """A process left in this (the host's) mount namespace that unbinds what it was told
    was held (innermost first) once its pipe closes: by ``release``, or by the kernel when
    the supervisor dies, however. It is init's child in a session of its own, deaf to the
    terminal's signals: not among the enclave's processes the supervisor ends."""

    _WAIT = 30.0  # seconds ``release`` waits for the keeper to be done

    def __init__(self, uid: int, gid: int) -> None:
        told_r, self._told = os.pipe()
        self._done, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if os.fork():
                    os._exit(0)  # (the keeper is orphaned to init before anyone reaps)
                for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
                    signal.signal(signum, signal.SIG_IGN)
                _keep(told_r, done_w, uid, gid)
            finally:
                os._exit(0)
        os.close(told_r)
        os.close(done_w)
        os.waitpid(pid, 0)

    def add(self, path: str) -> None:
        """``path`` is held: unbind it at the end."""
        os.write(self._told, b"H" + path.encode() + b"\0")

    def made(self, path: str) -> None:
        """``path`` was made for a bridge: remove it at the end if empty (as the user)."""
        os.write(self._told, b"M" + path.encode() + b"\0")

    def release(self) -> bool:
        """Have the keeper unbind everything now; False if it did not finish in time."""
        import select

        os.close(self._told)
        try:
            deadline = time.monotonic() + self._WAIT
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self._done], [], [], left)
                if ready and not os.read(self._done, 64):
                    return True  # the keeper exited: all unbound
            return False
        finally:
            os.close(self._done)


def _keep(told: int, done: int, uid: int, gid: int) -> None:
    """The keeper's work: read the held places until the pipe closes, then unbind them, and
    remove the directories made for bridges (with the user's rights: it is their home)."""
    low, high = sorted((told, done))
    os.closerange(0, low)  # (the supervisor's locks, sockets and terminal are not ours)
    os.closerange(low + 1, high)
    os.closerange(high + 1, os.sysconf("SC_OPEN_MAX"))
    data = b""
    while chunk := os.read(told, 65536):
        data += chunk
    entries = [entry for entry in data.split(b"\0") if entry]
    for entry in reversed(entries):
        if entry[:1] == b"H":
            with contextlib.suppress(OSError):
                linux.umount(entry[1:].decode(), linux.UMOUNT_NOFOLLOW | linux.MNT_DETACH)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    for entry in reversed(entries):
        if entry[:1] == b"M":
            with contextlib.suppress(OSError):
                os.rmdir(entry[1:].decode())
