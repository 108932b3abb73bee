"""Durable file operations: atomic replace, fsync of files and directories."""

from __future__ import annotations

import contextlib
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
    path: Path, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> Iterator[BinaryIO]:
    """Write ``path`` all-or-nothing.

    Data goes to a unique temp file in the same directory (created with
    ``mode`` from the start, never wider), is fsynced, renamed over ``path``,
    and the directory is fsynced. On any error the temp file is removed and
    ``path`` is untouched.
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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(directory)


def write_atomic(
    path: Path, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    with atomic_writer(path, mode, owner) as handle:
        handle.write(data)


def make_private_dir(path: Path, owner: tuple[int, int] | None = None) -> None:
    """Create ``path`` (and parents) with mode 0700 and the given owner."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if owner is not None:
        os.chown(path, *owner)
