"""The vault tree as a tar archive: packing for save, safe unpacking for open.

Unpacking refuses absolute paths, `..`, links that leave the tree, and
device files or fifos; it keeps numeric ownership and strips setuid/setgid
bits. (Python's own `data` filter arrived in 3.11.4 and drops ownership, so
tazpod checks members itself.) A hostile or corrupted archive can therefore never write
outside the vault's tmpfs.
"""

from __future__ import annotations

import io
import os
import posixpath
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


def _unsafe(member: tarfile.TarInfo, seen: set[str], links: set[str]) -> str | None:
    """Why ``member`` may not be extracted, or None when it is safe."""
    name = member.name
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or ".." in parts:
        return f"{name!r} is absolute or contains '..'"
    if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
        return f"{name!r} lies under a symlink"
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        return f"{name!r} is a device, fifo or other special file"
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            return f"symlink {name!r} points outside the vault ({target!r})"
    if member.islnk():
        target = posixpath.normpath(member.linkname)
        if target not in seen:
            return f"hard link {name!r} points at {member.linkname!r}, not an earlier entry"
    return None


def _checked(members: list[tarfile.TarInfo]) -> list[tarfile.TarInfo]:
    seen: set[str] = set()
    links: set[str] = set()
    for member in members:
        if member.name.split("/", 1)[0] in UNSEALED:
            raise VaultError(f"vault archive contains reserved entry {member.name!r}")
        problem = _unsafe(member, seen, links)
        if problem is not None:
            raise VaultError(
                f"vault archive has an unsafe entry and was not opened: {problem}",
                hint="the vault file may have been tampered with; the previous generation is"
                " vault.age.1",
            )
        member.mode &= 0o777  # no setuid, setgid or sticky bits from a vault
        seen.add(posixpath.normpath(member.name))
        if member.issym():
            links.add(posixpath.normpath(member.name))
    return members


def unpack(data: bytes, dest: Path) -> int:
    """Extract into ``dest`` (an empty directory); returns the number of entries."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = _checked(archive.getmembers())
            # Every member was checked above (S202); tar's own filters would drop ownership.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(dest, members, numeric_owner=True, filter="fully_trusted")  # noqa: S202
            else:
                archive.extractall(dest, members, numeric_owner=True)  # noqa: S202
            return len(members)
    except tarfile.TarError as err:
        raise VaultError(f"vault archive is damaged: {err}") from err


def pack_empty() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT):
        pass
    return buffer.getvalue()
