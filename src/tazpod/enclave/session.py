"""One open enclave: the private mount namespace, the vault's tmpfs and the bridges.

Runs in the supervisor (root). Mounts are made by root onto directories the
user's side opened (O_PATH, no symlinks); every read and write of files in
user-controlled places happens while acting as the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.enclave import bridges as bridge_ops
from tazpod.enclave.control import CONTROL_DIR, SOCKET_NAME
from tazpod.enclave.user import EnclaveUser
from tazpod.errors import TazpodError, VaultError
from tazpod.project.paths import expand_home, in_container
from tazpod.sysio import linux, userns
from tazpod.sysio.creds import acting_as, ensure_private_dir, fd_path, open_dir_nofollow
from tazpod.sysio.keeper import Keeper
from tazpod.sysio.mounts import is_anchor, is_mount_point, mounts_under
from tazpod.vault.base import OpenedVault, Report
from tazpod.vault.layout import RESCUE_PREFIX, RESCUE_SUFFIX


@dataclass
class EnclaveMounts:
    """What the supervisor holds of an open enclave: its private mount namespace, the
    opened vault mounted there, the bridges bound into the home; save and close them."""

    user: EnclaveUser
    store: OpenedVault
    mount_point: Path
    bridge_specs: tuple[str, ...]
    report: Report
    mounted: list[Path] = field(default_factory=list)
    made_for_bridges: list[Path] = field(default_factory=list)  # removed again if empty
    root_fd: int = -1
    held: list[str] = field(default_factory=list)  # a host's places, bound onto themselves
    keeper: Keeper | None = None  # releases ``held``
    last_save: float = 0.0
    opened_at: float = field(default_factory=time.time)

    def as_user(self) -> contextlib.AbstractContextManager[None]:
        return acting_as(self.user.uid, self.user.gid, self.user.groups)

    @property
    def root(self) -> Path:
        """The vault's root through our own descriptor: immune to path swaps."""
        return Path(fd_path(self.root_fd))

    # -- open ------------------------------------------------------------------------
    def open(self) -> None:
        with _explained("the vault's mount point"):
            self._open()

    def _open(self) -> None:
        if not in_container():
            self._hold_places()  # (in a dev container the engine's anchors hold them)
        if self.store.user_namespace_mount:
            # Root of a user namespace of its own may mount the tmpfs: so the container
            # needs no CAP_SYS_ADMIN (and the enclave's processes, children of this one,
            # are in a namespace that only root, its owner, can reach into).
            userns.become_namespace_root()
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE)
        anchored = is_anchor(str(self.mount_point))  # the engine's, in a dev container
        held = anchored or str(self.mount_point) in self.held
        if is_mount_point(str(self.mount_point)) and not held:
            raise VaultError(
                f"{self.mount_point} is already a mount point",
                hint="another tool (or an old TazPod session) mounted something there;"
                " unmount it or set vault.mount_point",
            )
        with self.as_user():
            if not anchored:
                ensure_private_dir(self.mount_point)
            target = open_dir_nofollow(self.mount_point)
        try:
            self.store.mount(fd_path(target), self.user.uid, self.user.gid)
            self.mounted.append(self.mount_point)
        finally:
            os.close(target)
        with self.as_user():
            self.root_fd = os.open(self.mount_point, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            if os.fstat(self.root_fd).st_uid != self.user.uid:
                raise VaultError(f"{self.mount_point} changed while the vault was mounted")
            summary = self.store.fill(self.root)
            self.report(f"vault opened at {self.mount_point} ({self.store.kind}: {summary})")
            control = self.root / CONTROL_DIR
            control.mkdir(mode=0o700, exist_ok=True)  # a luks vault keeps it between sessions
            with contextlib.suppress(FileNotFoundError):
                (control / SOCKET_NAME).unlink()  # a killed session's socket

    def _hold_places(self) -> None:
        """On a host: bind the mount point, each bridge and every directory between them
        and the home onto themselves, in the host's mount namespace, while the enclave is
        open. A mount point cannot be renamed or removed (EBUSY, in namespaces copied from
        this one too), so no process of the user's outside the enclave can move one away
        from under the enclave's mounts and put a directory of its own where the enclave's
        processes look. A keeper process releases them when the enclave closes, or when
        this process dies, however."""
        home = Path(self.user.home)
        keeper = self.keeper = Keeper(self.user.uid, self.user.gid)
        self._hold(self.mount_point, home, keeper)
        with _explained("a bridge"):
            for spec in self.bridge_specs:
                bridge = expand_home(spec, home)
                if bridge == self.mount_point or self.mount_point in bridge.parents:
                    continue  # in the vault's own file system, which no one outside sees
                if not os.path.lexists(bridge):
                    self.made_for_bridges.append(bridge)
                self._hold(bridge, home, keeper)

    def _hold(self, place: Path, home: Path, keeper: Keeper) -> None:
        parts = place.relative_to(home).parts
        real_home = os.path.realpath(home)  # (a home behind a link, /home -> var/home, is fine)
        for depth in range(1, len(parts) + 1):
            directory = home.joinpath(*parts[:depth])
            if str(directory) in self.held:
                continue
            with self.as_user():
                ensure_private_dir(directory)  # (an existing one keeps its mode)
                target = open_dir_nofollow(directory)
            try:
                if os.path.realpath(fd_path(target)) != os.path.join(real_home, *parts[:depth]):
                    raise VaultError(f"{directory} is reached through a symbolic link")
                linux.mount(fd_path(target), fd_path(target), None, linux.MS_BIND)
                self.held.append(str(directory))
                keeper.add(str(directory))
            finally:
                os.close(target)

    # -- bridges ----------------------------------------------------------------------
    def connect_bridges(self) -> None:
        with _explained("a bridge"):
            self._connect_bridges()

    def _connect_bridges(self) -> None:
        plans = bridge_ops.plan_bridges(self.bridge_specs, self.user.home, self.mount_point)
        pending: list[tuple[bridge_ops.Bridge, list[Path]]] = []
        with self.as_user():
            for bridge in plans:
                moved = bridge_ops.migrate(bridge.home_path, self.root / bridge.vault_name)
                pending.append((bridge, moved.movable))
                if moved.left:
                    shown = ", ".join(str(p) for p in moved.left[:3])
                    more = f" and {len(moved.left) - 3} more" if len(moved.left) > 3 else ""
                    self.report(
                        f"{len(moved.left)} file(s) at {bridge.spec} outside the vault were not"
                        f" taken in (any session can write there while the enclave is"
                        f" closed): {shown}{more}; look at them, then delete them"
                    )
        if any(movable for _bridge, movable in pending):
            self.save()  # the migrated plaintext is sealed before it is deleted anywhere
            with self.as_user():
                for bridge, movable in pending:
                    bridge_ops.remove_migrated(movable, bridge.home_path)
                    if movable:
                        self.report(
                            f"moved {len(movable)} file(s) from {bridge.spec} into the vault"
                        )
        for bridge, _movable in pending:
            self._bind(bridge)

    def _bind(self, bridge: bridge_ops.Bridge) -> None:
        anchored = is_anchor(str(bridge.home_path))  # the engine's, in a dev container
        with self.as_user():
            if not os.path.lexists(bridge.home_path):
                self.made_for_bridges.append(bridge.home_path)
            if not anchored and str(bridge.home_path) not in self.held:
                ensure_private_dir(bridge.home_path)
            source = os.open(
                self.root / bridge.vault_name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW
            )
            target = open_dir_nofollow(bridge.home_path)
        try:
            linux.mount(fd_path(source), fd_path(target), None, linux.MS_BIND)
            self.mounted.append(bridge.home_path)
        finally:
            os.close(source)
            os.close(target)

    # -- save and close -----------------------------------------------------------------
    def save(self) -> str:
        """Make the tree durable (ram: seal into vault.age); returns what was saved."""
        # The tree is read, and the vault's files are written, with the user's rights.
        with self.as_user():
            saved = self.store.save(self.root)
        self.last_save = time.time()
        return saved

    def usage(self) -> tuple[int, int]:
        stats = os.fstatvfs(self.root_fd)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize, stats.f_blocks * stats.f_frsize

    def close(self) -> list[str]:
        """Unmount everything this enclave mounted; return what could not be."""
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1
        problems = []
        targets = {str(path) for path in self.mounted}
        for path in self.mounted:
            targets.update(mounts_under(str(path)))
        for target in sorted(targets, key=lambda p: p.count("/"), reverse=True):
            try:
                _unmount(target)
            except OSError as err:
                if err.errno != errno.EINVAL:  # already gone
                    problems.append(f"{target}: {err.strerror}")
        self.mounted.clear()
        if self.keeper is not None:  # the host's holds go: the keeper's in the host's
            for path in self.made_for_bridges:  # (where the copies here are locked)
                self.keeper.made(str(path))
            if not self.keeper.release():  # namespace, and this namespace's copies
                problems.append("the places held for the enclave were not released in time")
            self.keeper = None
            for target in reversed(self.held):
                with contextlib.suppress(OSError):
                    linux.umount(target, linux.UMOUNT_NOFOLLOW | linux.MNT_DETACH)
            self.held.clear()
        with self.as_user():  # a bridge's mount point made for it leaves no empty dir behind
            for path in reversed(self.made_for_bridges):
                with contextlib.suppress(OSError):
                    path.rmdir()
        self.made_for_bridges.clear()
        return problems + self.store.release()


def _unmount(target: str) -> None:
    """A plain unmount (the file system is flushed and released now); lazy if still busy."""
    try:
        linux.umount(target, linux.UMOUNT_NOFOLLOW)
    except OSError as err:
        if err.errno != errno.EBUSY:
            raise
        linux.umount(target, linux.UMOUNT_NOFOLLOW | linux.MNT_DETACH)


@contextlib.contextmanager
def _explained(what: str) -> Iterator[None]:
    """System errors while preparing the enclave, as messages that name the path."""
    try:
        yield
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        raise VaultError(
            f"cannot prepare {what}: {where}{err.strerror or err}",
            hint="tazpod only mounts onto real directories the enclave's user owns",
        ) from err


def _rescue_places(enclave: EnclaveMounts) -> list[Path]:
    return [enclave.user.home, Path("/var/tmp")]  # noqa: S108 (sealed data only)


def seal_or_rescue(enclave: EnclaveMounts) -> tuple[str, Path | None]:
    """Save; if the vault directory cannot be written, seal to a rescue file instead.

    Returns what was saved (with a word on rescue copies that earlier failed saves left,
    so they are not forgotten) and the rescue file, if one was needed.
    """
    try:
        saved = enclave.save()
    except (OSError, TazpodError) as first:
        places = _rescue_places(enclave)
        try:
            with enclave.as_user():
                return "", enclave.store.rescue(enclave.root, places)
        except (OSError, TazpodError) as err:
            raise VaultError(f"could not save the vault: {first}; {err}") from first
    left = earlier_rescues(_rescue_places(enclave), enclave.user.uid)
    if left:
        shown = ", ".join(str(path) for path in left[:3]) + (" ..." if len(left) > 3 else "")
        saved += (
            f"; {len(left)} rescue cop{'y' if len(left) == 1 else 'ies'} of earlier failed saves"
            f" {'is' if len(left) == 1 else 'are'} still there ({shown}): each opens like"
            " vault.age with your identity; delete them once you have what you need"
        )
    return saved, None


def earlier_rescues(places: list[Path], uid: int) -> list[Path]:
    """Rescue files (named as tazpod.vault.layout says) of this user in the rescue places."""
    found = []
    for directory in places:
        with contextlib.suppress(OSError):
            for path in sorted(directory.glob(f"{RESCUE_PREFIX}*{RESCUE_SUFFIX}")):
                if path.is_file() and not path.is_symlink() and path.lstat().st_uid == uid:
                    found.append(path)
    return found
