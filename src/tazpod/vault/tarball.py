"""The vault tree as a tar archive: packing for save, safe unpacking for open.

Unpacking refuses absolute paths, `..`, duplicate names, entries under anything but a
directory, symlinks whose target (following the archive's other symlinks, as the
kernel would) leaves the tree, hard links to anything but an earlier regular file,
skips device files and fifos, keeps numeric ownership and strips
setuid/setgid bits. (Python's own `data` filter arrived in 3.11.4 and drops ownership, so
tazpod checks members itself.) A hostile or corrupted archive can therefore never write
outside the vault's tmpfs.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from pathlib import Path, PurePosixPath

from tazpod.errors import VaultError

# The enclave's control directory lives in the tmpfs but is never sealed.
UNSEALED = frozenset({".tazpod"})


def pack(tree: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in sorted(os.listdir(tree)):
            if entry in UNSEALED:
                continue
            archive.add(tree / entry, arcname=entry, recursive=True)
    return buffer.getvalue()


_MAX_LINK_DEPTH = 40  # the kernel's own limit on symlinks followed in one lookup


def _name_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or ".." in parts or posixpath.normpath(name) == ".":
        return f"{name!r} is absolute or contains '..' (or names the root)"
    return None


def _resolve(parts: list[str], members: dict[str, tarfile.TarInfo], depth: int = 0) -> list[str]:
    """Where a relative path lands in the unpacked tree, following the archive's symlinks
    as the kernel would; raises ValueError if it leaves the tree or loops."""
    here: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not here:
                raise ValueError("leaves the vault")
            here.pop()
            continue
        member = members.get("/".join([*here, part]))
        if member is None or not member.issym():
            here.append(part)
            continue
        if depth >= _MAX_LINK_DEPTH or not member.linkname or member.linkname.startswith("/"):
            raise ValueError("is absolute or loops")
        here = _resolve([*here, *member.linkname.split("/")], members, depth + 1)
    return here


def _link_problem(member: tarfile.TarInfo, members: dict[str, tarfile.TarInfo]) -> str | None:
    name = posixpath.normpath(member.name)
    if member.issym():
        if not member.linkname or member.linkname.startswith("/"):
            return f"symlink {name!r} points outside the vault ({member.linkname!r})"
        try:
            _resolve([*PurePosixPath(name).parent.parts, *member.linkname.split("/")], members)
        except ValueError as err:
            return f"symlink {name!r} points outside the vault ({member.linkname!r} {err})"
    if member.islnk():
        target = members.get(member.linkname)
        if (
            target is None
            or not target.isreg()
            or member.linkname != posixpath.normpath(member.linkname)
        ):
            return (
                f"hard link {name!r} points at {member.linkname!r}, not an earlier entry (a file)"
            )
    return None


def _tree_problem(members: list[tarfile.TarInfo]) -> str | None:
    """Duplicates, entries under non-directories, links that leave the tree."""
    by_name: dict[str, tarfile.TarInfo] = {}
    for member in members:
        name = posixpath.normpath(member.name)
        if name in by_name:
            return f"{name!r} appears twice (a later entry would replace the first)"
        parts = PurePosixPath(name).parts
        for i in range(1, len(parts)):
            parent = by_name.get("/".join(parts[:i]))
            if parent is not None and not parent.isdir():
                kind = "a symlink" if parent.issym() else "a non-directory"
                return f"{name!r} lies under {kind} ({parent.name!r})"
        if member.islnk() and member.linkname not in by_name:
            return (
                f"hard link {name!r} points at {member.linkname!r}, not an earlier entry (a file)"
            )
        by_name[name] = member
    for member in members:
        problem = _link_problem(member, by_name)
        if problem is not None:
            return problem
    return None


def _checked(members: list[tarfile.TarInfo]) -> list[tarfile.TarInfo]:
    """The members that may be extracted; raises on a hostile one.

    FIFOs and device nodes (which a user can create in the vault) carry no data and are
    silently left out: extracting them is pointless on a nodev tmpfs, refusing them would
    make the vault unopenable. Every other check looks at the whole archive, so no later
    entry can change what an earlier one meant.
    """
    members = [m for m in members if m.isreg() or m.isdir() or m.issym() or m.islnk()]
    for member in members:
        if posixpath.normpath(member.name).split("/", 1)[0] in UNSEALED:
            raise VaultError(f"vault archive contains reserved entry {member.name!r}")
    problem = next(filter(None, map(_name_problem, members)), None) or _tree_problem(members)
    if problem is not None:
        raise VaultError(
            f"vault archive has an unsafe entry and was not opened: {problem}",
            hint="the vault file may have been tampered with; the previous generation is"
            " vault.age.1",
        )
    for member in members:
        member.mode &= 0o777  # no setuid, setgid or sticky bits from a vault
    return members


def unpack(data: bytes, dest: Path) -> int:
    """Extract into ``dest`` (an empty directory); returns the number of files and links.

    (Directories are not counted: the bridges' own directories are no secrets.)
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = _checked(archive.getmembers())
            # Every member was checked above (S202); tar's own filters would drop ownership.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(dest, members, numeric_owner=True, filter="fully_trusted")  # noqa: S202
            else:
                archive.extractall(dest, members, numeric_owner=True)  # noqa: S202
            return sum(1 for m in members if not m.isdir())
    except tarfile.TarError as err:
        raise VaultError(f"vault archive is damaged: {err}") from err


def unsafe_links(root: str, names: list[str], limit: int | None = None) -> list[str]:
    """What under ``root``'s ``names`` an open would refuse: symlinks that lead out of the
    tree (the same check as unpacking's, on the tree as it is), and files larger than
    ``limit`` (the vault's size: a sparse file that no open could hold)."""
    members: dict[str, tarfile.TarInfo] = {}
    too_large = []
    stack = list(names)
    while stack:
        name = stack.pop()
        path = os.path.join(root, name)
        member = tarfile.TarInfo(name)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                member.type, member.linkname = tarfile.SYMTYPE, os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                member.type = tarfile.DIRTYPE
                stack += [f"{name}/{entry}" for entry in os.listdir(path)]
            elif limit is not None and st.st_size > limit:
                too_large.append(name)
        except OSError:
            pass  # unreadable: tar leaves it out
        members[name] = member
    links = [n for n, m in members.items() if m.issym() and _link_problem(m, members) is not None]
    return sorted(links + too_large)


def pack_empty() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT):
        pass
    return buffer.getvalue()


class ArchiveStream:
    """`tar -c` of a tree in a child process: its stdout is the archive, read as it is made.

    GNU tar does the packing (in parallel with the encryption that consumes it): PAX
    format, numeric owners, names sorted, no symlink followed, the control directory left
    out. Run as the enclave's user when ``ids`` is given.
    """

    def __init__(
        self,
        tree: Path,
        ids: tuple[int, int, tuple[int, ...]] | None = None,
        exclude: frozenset[str] = UNSEALED,
    ):
        from tazpod.sysio import procfs
        from tazpod.sysio.run import Child
        from tazpod.sysio.tools import tool

        tar = tool("tar")  # root-side (the supervisor): never through PATH
        fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # The top-level names go in on stdin (NUL-separated: any name is safe), so that
            # entries are `name/...` as tarfile writes them, and the root is not an entry.
            names = sorted(set(os.listdir(fd)) - exclude)
            # What no open would accept is never sealed (a link out of the tree that any
            # process of the enclave can make would lock the vault for good), and what
            # cannot be read is left out, not the whole save (tar says what, on stderr).
            space = os.fstatvfs(fd)
            limit = space.f_blocks * space.f_frsize or None
            self.left_out = unsafe_links(procfs.fd_path(fd), names, limit)
            leave_out = [f"--exclude={name}" for name in self.left_out]
            self.process = Child(
                [
                    tar,
                    "--format=posix",
                    "--numeric-owner",
                    "--sort=name",
                    "--ignore-failed-read",
                    # every name as what it is, never a hard link entry: one to a symlink
                    # or a FIFO (which anyone in the enclave can make) is refused at open
                    "--hard-dereference",
                    "--anchored",
                    "--no-wildcards",
                    *leave_out,
                    "-C",
                    procfs.fd_path(fd),
                    "--null",
                    "--verbatim-files-from",
                    "-T",
                    "-",
                    "-cf",
                    "-",
                ],
                stdin=b"".join(name.encode() + b"\0" for name in names),
                pass_fds=(fd,),
                ids=ids,
            )
        finally:
            os.close(fd)
        self._out = self.process.stdout
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._out.read(size)
        self.size += len(chunk)
        return chunk

    def finish(self) -> None:
        """Wait for tar; a failed tar must never become a sealed vault."""
        from tazpod.sysio.run import CommandFailed

        try:
            self.process.finish()
        except CommandFailed as err:
            raise VaultError(f"packing the vault failed: {err.stderr.strip()[-300:]}") from err
