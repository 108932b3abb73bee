"""Root runs tazpod only from an installation no other user can change.

`sudo ~/.tazpod-venv/bin/tazpod` runs, as root, Python code that every process of the
user can rewrite (one line added to a module of the venv is root code). So when tazpod
runs as root it first checks that its interpreter and its own package — every file and
directory of it, and every directory above them — belong to root and are writable by
no one else (a sticky directory such as /tmp counts as safe: nobody can replace what
root made there). Checking from inside the very code that may have been changed cannot
catch a change already made; what it does is make the unsafe installation unusable, so
the only way that works is one the user's processes cannot touch.
"""

from __future__ import annotations

import os
import stat
import sys

from tazpod.errors import PrivilegeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike


def _parents(path: str) -> list[str]:
    chain = [path]
    while (parent := os.path.dirname(chain[-1])) != chain[-1]:
        chain.append(parent)
    return chain


def unsafe_paths(package_dir: str | PathLike[str], interpreter: str | PathLike[str]) -> list[str]:
    """What in the installation is not root's alone (empty when it is safe).

    (os.path only: as root this runs before every command, `tazpod env` among them.)
    """
    problems: list[str] = []
    seen: set[str] = set()

    def check(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        try:
            st = os.lstat(path)
        except OSError as err:
            problems.append(f"{path} ({err.strerror})")
            return
        sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        if st.st_uid != 0:
            problems.append(f"{path} (owned by uid {st.st_uid})")
        elif st.st_mode & 0o022 and not sticky_dir and not stat.S_ISLNK(st.st_mode):
            problems.append(f"{path} (writable by group or others)")

    package = os.path.abspath(package_dir)
    for chain in (
        _parents(os.path.abspath(interpreter)),
        _parents(os.path.realpath(interpreter)),
        _parents(package),
    ):
        for part in chain:
            check(part)
    for directory, dirnames, filenames in os.walk(package):
        for name in [*dirnames, *filenames]:
            check(os.path.join(directory, name))
    return problems


def require_root_owned_install() -> None:
    """Refuse to go on as root from an installation another user could have changed."""
    if os.geteuid() != 0:
        return
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = unsafe_paths(package_dir, sys.executable)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise PrivilegeError(
            f"tazpod runs as root from an installation that is not root's alone: {shown}",
            hint="any process of that user could make it run their code as root: install"
            " tazpod root-owned (sudo python3 -m venv /opt/tazpod && sudo /opt/tazpod/bin/pip"
            " install <checkout>; sudo ln -s /opt/tazpod/bin/tazpod /usr/local/bin/) and run"
            " `sudo tazpod ...`",
        )
