"""What `tazpod workspace pull` writes here: the pod's archive, taken as hostile input.

The pod's user (an agent, a tool, anyone with `pods/exec`) makes that archive, so
nothing in it is trusted or followed:

- every path is walked one directory at a time from the project's root with
  O_NOFOLLOW, so no symbolic link, the pod's or one already here, is ever written
  through; an entry under one is left out;
- regular files are written to a temp file beside their place and renamed over it
  (which replaces a link there, never follows it), without setuid/setgid bits;
- symbolic links are made only when their target is relative and leads down (no `..`):
  chains of such links cannot leave the directory they start in;
- hard links, devices and fifos are left out;
- `.tazpod/` never comes back (this host's settings are approved here, and the vault
  stays in the pod), and of a `.git` directory only what git reads as data (objects,
  refs, logs, HEAD and the like): its config, hooks and info files would run code here
  at the next `git status` (core.fsmonitor, hooks), and a `.git` that is a file or a
  link points git somewhere else.

Everything left out is counted and named in the summary.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

NEVER = ".tazpod"
GIT_FILES = frozenset(
    {
        "HEAD",
        "ORIG_HEAD",
        "FETCH_HEAD",
        "MERGE_HEAD",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
        "COMMIT_EDITMSG",
        "packed-refs",
        "index",
        "description",
    }
)
GIT_DIRS = frozenset({"objects", "refs", "logs"})


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Received:
    files: int = 0
    links: int = 0
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def leave_out(self, name: str, why: str) -> None:
        self.left_out.append((name, why))


def _git_problem(parts: list[str], member: tarfile.TarInfo) -> str | None:
    for index, part in enumerate(parts):
        if part != ".git":
            continue
        rest = parts[index + 1 :]
        if not rest:
            return None if member.isdir() else "a .git that is no directory points git elsewhere"
        if member.issym():
            return "a link inside .git"
        if rest[:3] == ["objects", "info", "alternates"]:
            return "git's alternates point it at other directories"
        if rest[0] in GIT_DIRS or (len(rest) == 1 and rest[0] in GIT_FILES):
            continue
        return "git's own settings, hooks and info files run code here (core.fsmonitor, hooks)"
    return None


def _problem(name: str, member: tarfile.TarInfo) -> str | None:
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or name in ("", "."):
        return "an absolute name, or one with '..'"
    if parts[0] == NEVER:
        return "tazpod's settings and vault stay as this host has them"
    if not (member.isreg() or member.isdir() or member.issym()):
        return "not a file, directory or symbolic link"
    if member.issym():
        target = member.linkname
        if not target or target.startswith("/") or ".." in target.split("/"):
            return f"a link to {target!r}: only links that lead down (no '..') are made"
    return _git_problem(parts, member)


def _parent(root_fd: int, parts: list[str], opened: list[int]) -> int | None:
    """The directory holding the entry, made as needed, reached without following links."""
    fd = root_fd
    for part in parts:
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
        try:
            fd = os.open(part, _NOFOLLOW_DIR, dir_fd=fd)
        except OSError:  # a link here, or a file where the archive has a directory
            return None
        opened.append(fd)
    return fd


def _write_file(parent: int, leaf: str, member: tarfile.TarInfo, data: IO[bytes]) -> bool:
    temp = f".{leaf}.tazpod-pull-{os.urandom(4).hex()}"
    mode = (member.mode & 0o777 & ~0o022) | 0o600  # no setuid/setgid, no group/other writes
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := data.read(1 << 20):
                handle.write(chunk)
            os.fchmod(handle.fileno(), mode)
        os.utime(temp, (member.mtime, member.mtime), dir_fd=parent)
        os.rename(temp, leaf, src_dir_fd=parent, dst_dir_fd=parent)
    except IsADirectoryError:
        os.unlink(temp, dir_fd=parent)
        return False
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        raise
    return True


def _write_link(parent: int, leaf: str, target: str) -> bool:
    try:
        os.unlink(leaf, dir_fd=parent)  # a file or link there is replaced; a directory stays
    except FileNotFoundError:
        pass
    except (IsADirectoryError, PermissionError):
        return False
    os.symlink(target, leaf, dir_fd=parent)
    return True


def extract(stream: Readable, root: Path) -> Received:
    """Write the archive read from ``stream`` under ``root`` (see the module's rules)."""
    received = Received()
    root_fd = os.open(root, _NOFOLLOW_DIR)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                name = posixpath.normpath(member.name) if member.name else ""
                problem = _problem(name, member)
                if problem is not None:
                    received.leave_out(member.name, problem)
                    continue
                parts = name.split("/")
                opened: list[int] = []
                try:
                    parent = _parent(root_fd, parts[:-1] if not member.isdir() else parts, opened)
                    if parent is None:
                        received.leave_out(name, "it lies under a link or a file here")
                    elif member.isreg():
                        data = archive.extractfile(member)
                        assert data is not None
                        if _write_file(parent, parts[-1], member, data):
                            received.files += 1
                        else:
                            received.leave_out(name, "a directory is there")
                    elif member.issym():
                        if _write_link(parent, parts[-1], member.linkname):
                            received.links += 1
                        else:
                            received.leave_out(name, "a directory is there")
                finally:
                    for fd in opened:
                        os.close(fd)
    except tarfile.TarError as err:
        from tazpod.errors import EngineError

        raise EngineError(f"the pod's archive is damaged: {err}") from err
    finally:
        os.close(root_fd)
    return received
