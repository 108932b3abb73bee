"""Where root may mount the vault and its bridges: only on the user's own directories.

Root mounts a tmpfs (or the luks file system) on the mount point and bind-mounts vault
directories over the bridges, in the namespace where the supervisor also runs root's
tools. So the places come from the config only as far as they are the user's own: under
the user's home, owned by the user, and clear of the project and the vault's own files
(a mount over them would hide the files a save writes to).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tazpod.enclave.user import EnclaveUser
from tazpod.errors import ConfigError
from tazpod.project.paths import expand_home, in_container
from tazpod.sysio.creds import acting_as
from tazpod.sysio.mounts import is_anchor, is_mount_point

OVERFLOW_UID = 65534  # what the kernel shows for an owner the user namespace does not map
HINT = "use a directory of your own under your home, e.g. vault.mount_point: ~/secrets"


def _within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _overlap(first: Path, second: Path) -> bool:
    return _within(first, second) or _within(second, first)


def check_places(
    user: EnclaveUser, mount_point: Path, bridges: Iterable[str], keep_clear: Iterable[Path]
) -> None:
    """Refuse a mount point or bridge that is not the user's own, or that covers our files.

    Paths are resolved as the user (their symlinks, their permissions), so a link in the
    home pointing at /usr/local/bin is seen for what it is.
    """
    with acting_as(user.uid, user.gid, user.groups):
        home = Path(os.path.realpath(user.home))
        clear = [Path(os.path.realpath(path)) for path in keep_clear]
        places = [("vault.mount_point", str(mount_point), mount_point)]
        places += [("vault.bridges", spec, expand_home(spec, user.home)) for spec in bridges]
        for key, written, path in places:
            _check_one(key, written, Path(os.path.realpath(path)), user, home, clear)
    if in_container():
        for key, written, path in places:
            _check_held(key, written, path, Path(user.home))


def _check_held(key: str, written: str, path: Path, home: Path) -> None:
    """In a dev container, every place the enclave mounts on is a mount point already (the
    engine's anchor, or a bind mount), right in the home (whose own parent is root's):
    else the user could rename it, or a directory above it, away from under the enclave's
    mount and put a directory of their own where its processes look."""
    if path.parent != home:
        raise ConfigError(
            f"{key} {written} is not a directory right in the home ({home}/NAME): a directory"
            " above it could be moved away, with the enclave's mount, while it is open",
            hint=HINT,
        )
    if not is_mount_point(str(path)):
        raise ConfigError(
            f"{key} {written} is not held by this container (it was configured after the"
            " container was made, or an older tazpod made it)",
            hint="`tazpod up --replace` makes the container anew with it (the workspace and"
            " vault are kept)",
        )


def _check_one(
    key: str, written: str, real: Path, user: EnclaveUser, home: Path, clear: list[Path]
) -> None:
    where = f"{key} {written}" + (f" ({real})" if str(real) != written else "")
    if real == home or home not in real.parents:
        raise ConfigError(f"{where} is not a directory under {user.name}'s home {home}", HINT)
    for path in clear:
        if _overlap(real, path):
            raise ConfigError(
                f"{where} overlaps {path}, where the project or the vault's own files are",
                hint=HINT,
            )
    try:
        stat = os.lstat(real)
    except FileNotFoundError:
        return  # created by the user's side, as the user
    if stat.st_uid != user.uid and not is_anchor(str(real)):  # (an anchor is the engine's)
        hint = HINT
        if stat.st_uid == OVERFLOW_UID:  # an owner this user namespace does not map
            hint = (
                "its owner is not mapped in this container's user namespace: the engine"
                " unpacked the image under another uid map (its subordinate ids changed?);"
                " remove the image and build or load it again, then `tazpod up --replace`"
            )
        raise ConfigError(f"{where} belongs to uid {stat.st_uid}, not to {user.name}", hint)
