"""What `tazpod workspace pull` writes here: the pod's archive, taken as hostile input.

The pod's user (an agent, a tool, anyone with `pods/exec`) makes that archive, so
nothing in it is trusted or followed (which members at all: tazpod.engines.kubernetes.
pull_rules):

- the stream is walked header by header before tarfile sees it: a pax or long-name
  header over 1 MiB, or anything but zeros after the archive's end, stops the pull
  (memory stays bounded; a damaged header is never taken for the end);
- every path is walked one directory at a time from the project's root with
  O_NOFOLLOW, so no symbolic link, the pod's or one already here, is written through;
- regular files go to a short temp name beside their place and are renamed over it
  (which replaces a link there, never follows it), without setuid/setgid bits;
- symbolic links lead down only (no `.`, `..` or empty step) and are made at the end,
  only to a file or directory that is there by then, through real directories: no chain
  of links (the pod's or the user's) can lead out;
- no HEAD (any spelling) outside `.git`, and none of git's
  own names (config, hooks/, info/, commondir, gitdir) where the directory or one above
  holds a HEAD: a directory shaped like a repository runs its config at the next git
  command there;
- `.git` comes back only when asked (`--git`), and then only objects, refs (no replace
  refs), logs, HEAD and packed-refs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from tazpod.engines.kubernetes import pull_rules
from tazpod.errors import EngineError
from tazpod.sysio.tarstream import HeaderWalk, TarFramingError

_MAX_HEADER = 1 << 20
_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FATAL = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
_SHOWN = 100  # left-out entries kept by name (the rest are counted)


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


@dataclass
class Received:
    files: int = 0
    links: int = 0
    left_out: list[tuple[str, str]] = field(default_factory=list)
    more_left_out: int = 0

    def leave_out(self, name: str, why: str) -> None:
        if len(self.left_out) < _SHOWN:
            self.left_out.append((name, why))
        else:
            self.more_left_out += 1


class _Guard:
    """The pod's stream, read through while its headers are walked (see the module)."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._buffer = bytearray()
        self._offset = 0  # of _buffer[0] in the stream
        self._headers = HeaderWalk(metadata_limit=_MAX_HEADER)

    def _walk(self) -> None:
        try:
            self._headers.walk(self._buffer, self._offset)
        except TarFramingError as err:
            raise EngineError(f"the pod's archive has {err}: nothing more was read") from err

    def read(self, size: int = -1) -> bytes:
        wanted = 1 << 16 if size < 0 else size
        while len(self._buffer) < wanted or self._held() < wanted:
            chunk = self._source.read(1 << 16)
            if not chunk:
                break
            self._buffer += chunk
            self._walk()
            end = self._headers.end
            if end is not None and any(self._buffer[max(end - self._offset, 0) :]):
                raise EngineError("the pod's archive has data after its end (a damaged header?)")
        count = min(wanted, self._held())
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._offset += count
        return out

    def _held(self) -> int:
        """How much of the buffer may be handed on: all of it, but a pax header whose
        records are not read yet."""
        pending = self._headers.pending
        return len(self._buffer) if pending is None else max(pending - self._offset, 0)

    @property
    def end(self) -> int | None:
        """Where the archive's end-of-archive blocks start (None: not seen yet)."""
        return self._headers.end

    def drain(self) -> None:
        """Read what is left (zeros only, or read() raises)."""
        while self.read(1 << 16):
            pass


def _parent(root_fd: int, parts: list[str], opened: list[int], create: bool = True) -> int | None:
    """The directory holding the entry, made as needed, reached without following links."""
    fd = root_fd
    for part in parts:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
        try:
            fd = os.open(part, _NOFOLLOW_DIR, dir_fd=fd)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                return None  # a link here, or a file where the archive has a directory
            raise
        opened.append(fd)
    return fd


def _temp_file(parent: int, member: tarfile.TarInfo, data: IO[bytes]) -> str:
    temp = f".tazpod-pull-{os.urandom(6).hex()}"
    mode = (member.mode & 0o777 & ~0o022) | 0o600  # no setuid/setgid, no group/other writes
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := data.read(1 << 20):
                handle.write(chunk)
            os.fchmod(handle.fileno(), mode)
        with contextlib.suppress(OverflowError, ValueError, OSError):  # a nonsense mtime
            os.utime(temp, (member.mtime, member.mtime), dir_fd=parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        raise
    return temp


def _place(parent: int, temp: str, leaf: str) -> bool:
    try:
        os.rename(temp, leaf, src_dir_fd=parent, dst_dir_fd=parent)
    except OSError:  # a directory is there
        os.unlink(temp, dir_fd=parent)
        return False
    return True


def _plain_target(parent: int, target: str) -> bool:
    """Whether ``target`` (relative, downward) names, from ``parent``, an existing file or
    directory through real directories only (no link on the way, none at the end)."""
    import stat

    opened: list[int] = []
    try:
        fd = parent
        *steps, last = target.split("/")
        for step in steps:
            fd = os.open(step, _NOFOLLOW_DIR, dir_fd=fd)
            opened.append(fd)
        info = os.stat(last, dir_fd=fd, follow_symlinks=False)
        return stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)
    except OSError:
        return False
    finally:
        for fd in opened:
            os.close(fd)


def _write_link(parent: int, leaf: str, target: str) -> bool:
    try:
        os.unlink(leaf, dir_fd=parent)  # a file or link there is replaced; a directory stays
    except FileNotFoundError:
        pass
    except (IsADirectoryError, PermissionError):
        return False
    os.symlink(target, leaf, dir_fd=parent)
    return True


def _holds_head(root_fd: int, parts: list[str]) -> bool:
    """Whether the root or a directory on the way to the entry holds a HEAD."""
    opened: list[int] = []
    try:
        fd = root_fd
        for index in range(len(parts)):
            with contextlib.suppress(FileNotFoundError):
                os.stat("HEAD", dir_fd=fd, follow_symlinks=False)
                return True
            if index == len(parts) - 1:
                return False
            fd = os.open(parts[index], _NOFOLLOW_DIR, dir_fd=fd)
            opened.append(fd)
        return False
    finally:
        for fd in opened:
            os.close(fd)


class _Writer:
    def __init__(self, root_fd: int, with_git: bool) -> None:
        self.root_fd, self.with_git = root_fd, with_git
        self.received = Received()
        self.links: list[tuple[list[str], str, str]] = []  # (parts, name, target)

    def member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = os.path.normpath(member.name) if member.name else ""
        why = pull_rules.problem(name, member, self.with_git)
        if why is not None:
            self.received.leave_out(member.name, why)
            return
        parts = name.split("/")
        with self._entry(name) as opened:
            parent = _parent(self.root_fd, parts if member.isdir() else parts[:-1], opened)
            if parent is None:
                self.received.leave_out(name, "it lies under a link or a file here")
            elif member.isreg():
                self._file(archive, member, parent, parts, name)
            elif member.issym():
                self._link(parent, parts, name, member.linkname)

    @contextlib.contextmanager
    def _entry(self, name: str) -> Iterator[list[int]]:
        """Writing one entry: the directories it opens are closed after; a full disk stops
        the pull, any other failure leaves the entry out."""
        opened: list[int] = []
        try:
            yield opened
        except OSError as err:
            if err.errno in _FATAL:
                raise EngineError(f"cannot write {name}: {err.strerror}") from err
            self.received.leave_out(name, err.strerror or str(err))
        finally:
            for fd in opened:
                os.close(fd)

    def _file(
        self,
        archive: tarfile.TarFile,
        member: tarfile.TarInfo,
        parent: int,
        parts: list[str],
        name: str,
    ) -> None:
        data = archive.extractfile(member)
        assert data is not None
        outside_git = parts[0] != ".git"
        if outside_git and pull_rules.git_named(parts) and _holds_head(self.root_fd, parts):
            self.received.leave_out(name, "git's own file where a directory holds a HEAD")
            return
        temp = _temp_file(parent, member, data)
        if _place(parent, temp, parts[-1]):
            self.received.files += 1
        else:
            self.received.leave_out(name, "a directory is there")

    def _link(self, parent: int, parts: list[str], name: str, target: str) -> None:
        if parts[0] != ".git" and pull_rules.git_named(parts):
            self.received.leave_out(name, "a link named like git's own files")
        else:  # made at the end, when every target it may point at is in place
            self.links.append((parts, name, target))

    def make_links(self) -> None:
        """The archive's links, each only if its target is, now, a real file or directory
        reached through real directories: no chain of links, the pod's or the user's,
        can then lead out, now or after a later pull (which never turns a directory into
        a link)."""
        for parts, name, target in self.links:
            with self._entry(name) as opened:
                parent = _parent(self.root_fd, parts[:-1], opened, create=False)
                if parent is None:
                    self.received.leave_out(name, "it lies under a link or a file here")
                elif not _plain_target(parent, target):
                    self.received.leave_out(
                        name, f"a link to {target!r}, which is not a file or directory here"
                    )
                elif _write_link(parent, parts[-1], target):
                    self.received.links += 1
                else:
                    self.received.leave_out(name, "a directory is there")


def extract(stream: Readable, root: Path, with_git: bool = False) -> Received:
    """Write the archive read from ``stream`` under ``root`` (see the module's rules)."""
    guard = _Guard(stream)
    root_fd = os.open(root, _NOFOLLOW_DIR)
    writer = _Writer(root_fd, with_git)
    try:
        with tarfile.open(fileobj=guard, mode="r|") as archive:  # type: ignore[call-overload]
            while (member := archive.next()) is not None:
                try:
                    writer.member(archive, member)
                finally:
                    archive.members.clear()  # tarfile keeps every member: bounded memory
            stopped = archive.offset
        guard.drain()
        writer.make_links()
        if guard.end != stopped:  # tarfile takes a damaged header for the end
            raise EngineError(
                f"the pod's archive cannot be read past byte {stopped}: the pull is incomplete"
                " (files before that point were written)"
            )
    except tarfile.TarError as err:
        raise EngineError(f"the pod's archive is damaged: {err}") from err
    finally:
        os.close(root_fd)
    return writer.received
