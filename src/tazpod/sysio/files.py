"""Durable file operations: atomic replace, fsync of files and directories."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(
    path: Path,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
    keep_previous: Path | None = None,
) -> Iterator[BinaryIO]:
    """Write ``path`` all-or-nothing.

    Data goes to a unique temp file in the same directory (created with
    ``mode`` from the start, never wider), is fsynced, renamed over ``path``,
    and the directory is fsynced. On any error the temp file is removed and
    ``path`` is untouched. With ``keep_previous``, the replaced ``path``
    becomes that file (see ``_commit_keeping``).
    """
    directory = path.parent
    tmp = directory / f".{path.name}.tmp-{os.urandom(6).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if owner is not None:
                os.fchown(handle.fileno(), *owner)
            os.fsync(handle.fileno())
        if keep_previous is None:
            os.replace(tmp, path)
        else:
            _commit_keeping(tmp, path, keep_previous)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(directory)


def _commit_keeping(tmp: Path, path: Path, previous: Path) -> None:
    """Put ``tmp`` at ``path`` and what ``path`` held at ``previous``, never one inode twice.

    The names are swapped atomically (RENAME_EXCHANGE), then the old generation, now at
    ``tmp``, is renamed to ``previous``. A crash in between leaves the new generation at
    ``path``, the one before at ``previous`` and the old one at a temp name (removed at the
    next open): two distinct generations at every instant. File systems without the
    exchange get a hard link of ``path`` renamed to ``previous`` first.
    """
    from tazpod.sysio import linux

    if not path.exists():
        os.replace(tmp, path)
        return
    try:
        linux.exchange(str(tmp), str(path))
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        _link_previous(path, previous)
        os.replace(tmp, path)
        return
    fsync_dir(path.parent)
    _rename_unless_same(tmp, previous)


def _link_previous(path: Path, previous: Path) -> None:
    """Fallback rotation: ``previous`` := ``path`` by a hard link and a rename."""
    staging = path.parent / f".{previous.name}.tmp-{os.urandom(6).hex()}"
    os.link(path, staging)
    try:
        _rename_unless_same(staging, previous)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    fsync_dir(path.parent)


def _rename_unless_same(source: Path, target: Path) -> None:
    """rename(2) between two links of one inode does nothing: drop ``source`` then."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samestat(os.lstat(source), os.lstat(target)):
            source.unlink()
            return
    os.replace(source, target)


def write_atomic(
    path: Path,
    data: bytes,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
    keep_previous: Path | None = None,
) -> None:
    with atomic_writer(path, mode, owner, keep_previous) as handle:
        handle.write(data)


def make_private_dir(path: Path, owner: tuple[int, int] | None = None) -> None:
    """Create ``path`` (and parents) with mode 0700 and the given owner."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if owner is not None:
        os.chown(path, *owner)
