"""`tazpod vault migrate --to ram|luks`: move a vault's content to the other backend.

Nothing is lost on any failure. The old vault's files are removed only after
the new vault has been written, closed, opened again from disk with the
passphrase, found to hold exactly the same tree (names, types, modes,
contents), and config.yaml names the new backend. Until then the old vault is
the one in use, and a failed attempt removes the new files it made.

Runs as root in a private mount namespace of its own: both vaults' plaintext
is mounted only there, under /run/tazpod, while the migration runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from tazpod.enclave.user import EnclaveUser, require_root, resolve_user
from tazpod.errors import UsageError, VaultBusyError, VaultError
from tazpod.project import paths
from tazpod.project.config import DEFAULT_SIZE_MIB, ProjectConfig, update_vault_backend
from tazpod.project.locate import Project
from tazpod.sysio import linux
from tazpod.sysio.creds import acting_as, fd_path
from tazpod.vault import tarball, unlocking
from tazpod.vault.base import OpenedVault, Report, Vault
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import VaultLock
from tazpod.vault.prompts import PassphraseSource

# What a file system's root may hold that is not the user's data.
NOT_CONTENT = tarball.UNSEALED | {"lost+found"}
# RAM for a vault unpacked during the migration, whatever vault.size says: the
# migration must not fail for want of room, and never keeps it.
ROOM_MIB = 1024


def migrate(
    project: Project,
    config: ProjectConfig,
    target: str,
    size_mib: int | None,
    source: PassphraseSource,
    report: Report,
    on_retry: Callable[[int], None],
) -> None:
    require_root("migrating the vault")
    current = config.vault.backend
    if target == current:
        raise UsageError(f"the vault already uses the {target} backend")
    user = resolve_user(config.user, paths.in_container())
    source = source.resolved()
    size = size_mib or DEFAULT_SIZE_MIB[target]
    ids = (user.uid, user.gid, user.groups)
    old = vault_for(config.vault, project.vault_dir, ids, room_mib=ROOM_MIB)
    new_settings = replace(config.vault, backend=target, size_mib=size)
    new = vault_for(new_settings, project.vault_dir, ids, room_mib=ROOM_MIB)
    lock = VaultLock(project.vault_dir)
    with acting_as(user.uid, user.gid, user.groups):
        acquired = project.vault_dir.is_dir() and lock.try_acquire()
    if not acquired and old.exists():
        raise VaultBusyError("the vault is open in an enclave", hint="end it first: `tazpod lock`")
    try:
        if not old.exists():
            raise VaultError(f"there is no {current} vault in {project.vault_dir} to migrate")
        if new.files():
            names = ", ".join(p.name for p in new.files())
            raise VaultError(
                f"{names} already in {project.vault_dir}",
                hint=f"left by an interrupted migration? The vault in use is the {current} one;"
                " remove those files and migrate again",
            )
        _Migration(user, report).run(old, new, source, on_retry)
        with acting_as(user.uid, user.gid, user.groups):
            update_vault_backend(project.config_path, target, size)
        report(f"config.yaml now says vault.backend: {target} (size {size}M)")
        for path in old.destroy():
            report(f"removed the old vault's {path.name}")
    finally:
        lock.release()


class _Migration:
    def __init__(self, user: EnclaveUser, report: Report) -> None:
        self.user = user
        self.passphrase = ""  # the one that opened the old vault, for the new one
        self.report = report
        self.mounted: list[str] = []
        self.fds: list[int] = []
        self.opened: list[OpenedVault] = []

    def as_user(self) -> contextlib.AbstractContextManager[None]:
        return acting_as(self.user.uid, self.user.gid, self.user.groups)

    def run(
        self, old: Vault, new: Vault, source: PassphraseSource, on_retry: unlocking.OnRetry
    ) -> None:
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE)
        base = Path("/run/tazpod")
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.base = Path(tempfile.mkdtemp(prefix="migrate-", dir=base))
        try:
            store, self.passphrase = unlocking.open_existing(old, source, self.report, on_retry)
            old_root = self._mount(self._track(store), "old")
            with self.as_user():
                before = manifest(old_root)
            self.report(f"read the old vault: {len(before)} entries")
            try:
                self._write(new, old_root)
                self.report("verifying the new vault, opened again from disk")
                check = self._mount(self._track(new.open(self.passphrase, self.report)), "check")
                with self.as_user():
                    after = manifest(check)
                if after != before:
                    missing = sorted(set(before.items()) ^ set(after.items()))[:3]
                    raise VaultError(
                        "the new vault does not hold the same files as the old one"
                        f" (first differences: {', '.join(name for name, _ in missing)})",
                        hint="nothing was changed: the old vault is still the one in use",
                    )
            except BaseException:
                self._close()
                new.destroy()
                raise
            self.report(f"the new vault holds the same {len(after)} entries")
        finally:
            self._close()
            with contextlib.suppress(OSError):
                for entry in self.base.iterdir():
                    entry.rmdir()
                self.base.rmdir()

    def _track(self, store: OpenedVault) -> OpenedVault:
        """Remember an opened vault, to release it however the migration ends."""
        self.opened.append(store)
        return store

    def _mount(self, store: OpenedVault, name: str) -> Path:
        """Mount under the root-only base; the user reaches the root through our descriptor."""
        target = self.base / name
        target.mkdir(mode=0o700)
        store.mount(str(target), self.user.uid, self.user.gid)
        self.mounted.append(str(target))
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.fds.append(fd)
        root = Path(fd_path(fd))
        with self.as_user():
            store.fill(root)
        return root

    def _write(self, new: Vault, tree: Path) -> None:
        """Create the new vault, mount it here, copy ``tree`` in and make it durable."""
        store = self._track(new.create(self.passphrase, self.report))
        root = self._mount(store, "new")
        self.report(new.filling_note)
        with self.as_user():
            stream = tarball.ArchiveStream(tree, None, exclude=NOT_CONTENT)
            archive = stream.read()
            stream.finish()
            tarball.unpack(archive, root)
            store.save(root)
        self._close_last()  # verification opens it again, from disk

    def _close_last(self) -> None:
        os.close(self.fds.pop())
        linux.umount(self.mounted.pop())
        problems = self.opened.pop().release()
        if problems:
            raise VaultError(f"could not close the new vault: {'; '.join(problems)}")

    def _close(self) -> None:
        problems = []
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        for target in reversed(self.mounted):
            try:
                linux.umount(target)
            except OSError as err:
                problems.append(f"{target}: {err.strerror}")
        self.mounted.clear()
        for store in reversed(self.opened):
            problems += store.release()
        self.opened.clear()
        for problem in problems:
            self.report(f"could not clean up {problem}")


def manifest(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (not the file system's own): type, mode and content."""
    found: dict[str, str] = {}
    for entry in _walk(root, ""):
        path = root / entry
        info = path.lstat()
        mode = f"{stat.S_IMODE(info.st_mode):o}"
        if stat.S_ISLNK(info.st_mode):
            found[entry] = f"link {os.readlink(path)}"
        elif stat.S_ISDIR(info.st_mode):
            found[entry] = f"dir {mode}"
        elif stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[entry] = f"file {mode} {digest}"
    return found


def _walk(root: Path, prefix: str) -> Iterator[str]:
    for name in sorted(os.listdir(root / prefix if prefix else root)):
        if not prefix and name in NOT_CONTENT:
            continue
        entry = f"{prefix}/{name}" if prefix else name
        yield entry
        if (root / entry).is_dir() and not (root / entry).is_symlink():
            yield from _walk(root, entry)
