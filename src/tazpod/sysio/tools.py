"""Finding the programs tazpod runs: by absolute, root-owned path, or on PATH on purpose.

Root-side code (host `sudo tazpod`, container root, the supervisor) must never run a
program found through PATH: the user (or anyone who set the environment) decides what
PATH holds. ``tool`` looks only in fixed system directories and accepts a program only
when it and its directory are root's and nobody else may write them. The user's own
commands on the host (the docker or podman client, pip, mmdebstrap) may come from
PATH, asked for explicitly with ``on_path=True``.
"""

from __future__ import annotations

import os
import shutil
import stat

from tazpod.errors import PrivilegeError

SYSTEM_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")

# Debian/Ubuntu packages, for the hint when a system tool is missing.
PACKAGES = {
    "cryptsetup": "cryptsetup-bin",
    "e2fsck": "e2fsprogs",
    "mkfs.ext4": "e2fsprogs",
    "tar": "tar",
}


class MissingTool(PrivilegeError):
    """A program tazpod needs is not installed (where it may be taken from)."""

    def __init__(self, name: str, message: str, hint: str | None) -> None:
        super().__init__(message, hint)
        self.name = name


def _root_only(path: str) -> bool:
    """Owned by root and writable by nobody else (a group or world bit would let them)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _trusted(directory: str, name: str) -> str | None:
    candidate = os.path.join(directory, name)
    if not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
        return None
    if not (_root_only(candidate) and _root_only(os.path.dirname(os.path.realpath(candidate)))):
        return None
    return candidate


def find_tool(
    name: str, *, on_path: bool = False, directories: tuple[str, ...] = SYSTEM_DIRS
) -> str | None:
    """The program's absolute path, or None when it is not there.

    ``on_path=True``: the first ``name`` on this process's PATH, for the user's own
    host-side commands only.
    """
    if on_path:
        return shutil.which(name)
    for directory in directories:
        found = _trusted(directory, name)
        if found is not None:
            return found
    return None


def tool(
    name: str,
    *,
    on_path: bool = False,
    hint: str | None = None,
    directories: tuple[str, ...] = SYSTEM_DIRS,
) -> str:
    """Like ``find_tool``, but a missing program is a ``MissingTool`` saying how to install it."""
    found = find_tool(name, on_path=on_path, directories=directories)
    if found is not None:
        return found
    package = PACKAGES.get(name, name)
    install = hint or f"install it (Debian/Ubuntu: apt-get install {package})"
    if on_path:
        raise MissingTool(name, f"{name} is not installed (not found on PATH)", install)
    untrusted = [
        os.path.join(d, name) for d in directories if os.path.isfile(os.path.join(d, name))
    ]
    if untrusted:
        raise MissingTool(
            name,
            f"{untrusted[0]} is not root's alone (another owner, or writable by group or"
            " others); tazpod will not run it as root",
            f"make it and its directory root-owned and not group/world-writable, or {install}",
        )
    looked = ", ".join(directories)
    raise MissingTool(name, f"{name} is not installed (looked in {looked})", install)
