"""Acting as the enclave's user while root: file work in user-controlled places.

Root must not create, chown or follow paths in a directory the user controls
(a swapped-in symlink would turn it against the system). Inside
``acting_as`` the effective ids and groups are the user's, so the kernel
checks every path with the user's rights; real and saved uid stay 0, so the
user can neither signal nor trace this process, and root is restored after.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from tazpod.sysio.procfs import fd_path

__all__ = ["acting_as", "ensure_private_dir", "fd_path", "open_dir_nofollow"]


@contextlib.contextmanager
def acting_as(uid: int, gid: int, groups: tuple[int, ...]) -> Iterator[None]:
    if os.geteuid() != 0 or uid == 0:
        yield
        return
    saved_groups = os.getgroups()
    os.setgroups(list(groups))
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(saved_groups)


def open_dir_nofollow(path: Path) -> int:
    """An O_PATH descriptor of a real directory (not a symlink) for mount targets."""
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def ensure_private_dir(path: Path) -> None:
    """mkdir -p with mode 0700 for the last component; refuses a symlink there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    if path.is_symlink() or not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a symlink or not a directory", str(path))
