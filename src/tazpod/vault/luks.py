"""The `luks` backend: TazPod's vault.img, LUKS2 on a loop device with ext4 inside.

    .tazpod/vault/vault.img   LUKS2 (argon2id, aes-xts-plain64), ext4 inside

Unlike TazPod's original, which leaked loop devices, detached other projects'
loops and left dirty file systems after crashes:

- the image is opened with the owner's rights (no symlinks) and attached by
  descriptor to a loop device with autoclear: the kernel frees the loop when
  the mapping on top closes, even after a crash;
- the mapping's name is unique to this image file (its path, device and
  inode), so two projects, or two containers sharing a kernel, never collide;
- leftovers of a killed session are recognised by the backing file's device
  and inode, never by name alone, and only those are cleaned;
- `e2fsck -p` runs before every mount; the ext4 journal makes writes that
  reached the disk survive a kill -9 of the session;
- the passphrase reaches cryptsetup on a pipe, never argv.

The mapping itself is global to the kernel: container root can read the
decrypted block device while the vault is open (see docs/security.md).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.errors import VaultBusyError, VaultError
from tazpod.sysio import cryptsetup, linux, loop
from tazpod.sysio.creds import acting_as, fd_path
from tazpod.sysio.files import fsync_dir
from tazpod.vault.base import Report
from tazpod.vault.prompts import PassphraseSource, with_passphrase
from tazpod.vault.state import LUKS_FILE

Ids = tuple[int, int, tuple[int, ...]]
_STAGING = Path("/run/tazpod/mnt")
_TEMP_PREFIX = f".{LUKS_FILE}.tmp-"


def mapper_name(image: Path, fd: int) -> str:
    """A device-mapper name for this very file: path, device and inode."""
    info = os.fstat(fd)
    key = f"{os.path.realpath(image)}\0{info.st_dev}\0{info.st_ino}"
    return "tazpod-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def require_device_mapper(control: Path = Path("/dev/mapper/control")) -> None:
    if not control.exists():
        raise VaultError(
            "this kernel has no device-mapper (dm-crypt), so a luks vault cannot be opened here",
            hint="load it (`modprobe dm_crypt`); in a container the host's kernel needs it and"
            " the container must come from `tazpod up` with vault.backend: luks (recreate it:"
            " `tazpod up --replace`); new projects without it can use vault.backend: ram",
        )


def _open_image(path: Path, flags: int = os.O_RDWR) -> int:
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VaultError(f"{path} is not a regular file", hint="move it away and unlock again")
    return fd


@dataclass(frozen=True)
class LuksVault:
    directory: Path
    ids: Ids  # the enclave user's (uid, gid, groups): image files are touched only as them
    size_mib: int = 512
    kdf: cryptsetup.Kdf = field(default_factory=cryptsetup.Kdf)

    @property
    def image_path(self) -> Path:
        return self.directory / LUKS_FILE

    def exists(self) -> bool:
        return self.image_path.is_file() or self.image_path.is_symlink()

    def files(self) -> list[Path]:
        return [self.image_path] if self.exists() else []

    def as_user(self) -> contextlib.AbstractContextManager[None]:
        return acting_as(*self.ids)

    def open_image(self) -> int:
        with self.as_user():
            try:
                return _open_image(self.image_path)
            except OSError as err:
                raise VaultError(
                    f"cannot open {self.image_path}: {err.strerror}",
                    hint="it must be a regular file (not a symlink) that the vault's owner"
                    " can read and write",
                ) from err

    # -- create ------------------------------------------------------------------------
    def create(self, passphrase: str, report: Report) -> None:
        """Format a new vault.img: written under a temp name, renamed when complete."""
        require_device_mapper()
        report(
            f"creating a {self.size_mib} MiB LUKS2 vault (argon2id, aes-xts-plain64, ext4);"
            " deriving the key takes a moment"
        )
        with self.as_user():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            temp = self.directory / f"{_TEMP_PREFIX}{os.urandom(6).hex()}"
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.size_mib * 1024 * 1024)
            attached = loop.attach(fd, str(temp))
            try:
                cryptsetup.format_device(attached.path, passphrase, self.kdf)
                name = mapper_name(temp, fd)
                cryptsetup.open_device(attached.path, name, passphrase)
            finally:
                attached.close()  # the mapping holds the loop now; autoclear frees it after
            try:
                cryptsetup.make_filesystem(f"/dev/mapper/{name}", self.ids[:2])
            finally:
                cryptsetup.close_device(name)
            os.fsync(fd)
            with self.as_user():
                if self.exists():
                    raise VaultError(f"{self.image_path} appeared while a new one was being made")
                os.rename(temp, self.image_path)
                fsync_dir(self.directory)
        except BaseException:
            with self.as_user(), contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        finally:
            os.close(fd)

    def destroy(self) -> list[Path]:
        removed = self.files()
        with self.as_user():
            for path in removed:
                path.unlink()
            if removed:
                fsync_dir(self.directory)
        return removed + self.remove_stale_temps()

    def remove_stale_temps(self) -> list[Path]:
        """Half-made images of an interrupted create (call while holding the vault lock)."""
        stale = []
        for path in self.directory.glob(f"{_TEMP_PREFIX}*"):
            with self.as_user():
                try:
                    fd = _open_image(path, os.O_RDONLY)
                except (OSError, VaultError):
                    continue
            try:
                release_leftovers(path, fd, lambda _message: None)
            finally:
                os.close(fd)
            with self.as_user():
                path.unlink()
            stale.append(path)
        return stale

    # -- open ---------------------------------------------------------------------------
    def unlock(
        self, source: PassphraseSource, on_retry: Callable[[int], None], report: Report
    ) -> LuksMapping:
        """Map the image with the passphrase and check its file system (root)."""
        require_device_mapper()
        fd = self.open_image()
        try:
            name = mapper_name(self.image_path, fd)
            release_leftovers(self.image_path, fd, report)
            if not cryptsetup.is_luks(fd_path(fd), pass_fds=(fd,)):
                raise VaultError(
                    f"{self.image_path} is not a LUKS volume",
                    hint="restore it from a backup, or move it away to start a new vault",
                )

            def attempt(passphrase: str) -> None:
                attached = loop.attach(fd, str(self.image_path))
                try:
                    cryptsetup.open_device(attached.path, name, passphrase)
                finally:
                    attached.close()

            with_passphrase(source, attempt, on_retry)
        finally:
            os.close(fd)
        mapping = LuksMapping(name, self)
        try:
            mapping.check(report)
        except BaseException:
            mapping.release()
            raise
        return mapping

    def verify(self, passphrase: str) -> int:
        """The keyslot ``passphrase`` opens; WrongPassphraseError when none."""
        fd = self.open_image()
        try:
            return cryptsetup.unlocked_slot(fd_path(fd), passphrase, pass_fds=(fd,))
        finally:
            os.close(fd)

    # -- passphrases and facts ---------------------------------------------------------------
    def change_passphrase(
        self, old: str, new: str, report: Report, old_slot: int | None = None
    ) -> None:
        """Add the new key, prove it, then remove the old one: never without a valid key."""
        if old == new:
            raise VaultError("the new passphrase is the old one; nothing was changed")
        fd = self.open_image()
        try:
            device, fds = fd_path(fd), (fd,)
            if old_slot is None:
                old_slot = cryptsetup.unlocked_slot(device, old, pass_fds=fds)
            report("adding the new passphrase (a new LUKS keyslot)")
            cryptsetup.add_key(device, old, new, self.kdf, fds)
            new_slot = cryptsetup.unlocked_slot(device, new, pass_fds=fds)
            if new_slot == old_slot:
                raise VaultError("the new passphrase opens the old keyslot; nothing was removed")
            report(f"new passphrase verified (keyslot {new_slot}); removing keyslot {old_slot}")
            cryptsetup.kill_slot(device, old_slot, new, pass_fds=fds)
        finally:
            os.close(fd)

    def keyslots(self) -> list[int]:
        fd = self.open_image()
        try:
            return cryptsetup.keyslots(fd_path(fd), pass_fds=(fd,))
        finally:
            os.close(fd)


def release_leftovers(image: Path, fd: int, report: Report) -> None:
    """Close this image's mapping and loops left by a killed session (and nothing else)."""
    info = os.fstat(fd)
    ours = (info.st_dev, info.st_ino)
    name = mapper_name(image, fd)
    existing = loop.mapped_device(name)
    if existing is not None:
        backed = [s for s in existing.slaves if s.startswith("loop")]
        if not any(loop.backing(int(s[4:])) == ours for s in backed):
            raise VaultError(
                f"the device-mapper name {name} is taken by a device that is not {image}",
                hint=f"inspect it with `dmsetup info {name}`",
            )
        result = cryptsetup.close_device(name)
        if result.returncode != 0:
            pids = loop.processes_mounting(existing.number)
            raise VaultBusyError(
                f"{image} is still mounted by process(es) {', '.join(map(str, pids)) or '?'}"
                " left from an earlier session",
                hint="end them (e.g. `kill PID`) and unlock again; the vault's data is safe",
            )
        report("closed this vault's device, left open by an earlier session")
    for number in loop.loops_backed_by(*ours):
        users = loop.holders(f"loop{number}")
        if users:
            raise VaultBusyError(
                f"{image} is open through /dev/loop{number} under another device-mapper name"
                f" ({', '.join(users)})",
                hint="another tool (an old TazPod session?) has it open; close that first, e.g."
                " `cryptsetup close <name>` from `dmsetup ls`",
            )
        with contextlib.suppress(OSError):
            loop.detach(number)
            report(f"detached /dev/loop{number}, left attached to this vault by an earlier session")


@dataclass
class LuksMapping:
    """An opened luks vault: /dev/mapper/<name>, mounted into the enclave by mount()."""

    name: str
    vault: LuksVault
    kind: str = "luks"
    closed: bool = False

    @property
    def device(self) -> str:
        return f"/dev/mapper/{self.name}"

    def check(self, report: Report, force: bool = False) -> None:
        """`e2fsck -p` (with force: even when the file system says it is clean)."""
        result = cryptsetup.check_filesystem(self.device, force)
        if result.returncode & ~(cryptsetup.FSCK_CORRECTED | cryptsetup.FSCK_REBOOT):
            detail = (result.stdout + result.stderr).strip().splitlines()
            raise VaultError(
                "the vault's file system has errors that `e2fsck -p` cannot repair"
                + (f": {detail[-1]}" if detail else ""),
                hint=f"nothing was mounted; repair it by hand: `cryptsetup open"
                f" {self.vault.image_path} tazpod-repair`, `e2fsck -f /dev/mapper/tazpod-repair`,"
                " `cryptsetup close tazpod-repair`",
            )
        if result.returncode & cryptsetup.FSCK_CORRECTED:
            report("repaired the vault's file system (e2fsck -p) after an unclean end")

    def mount(self, target: str, uid: int, gid: int) -> None:
        """Mount in a root-only staging directory, fix the root's owner, then move it."""
        _STAGING.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(prefix="luks-", dir=_STAGING)
        try:
            self._mount_checked(staging)
            try:
                info = os.stat(staging)
                if (info.st_uid, info.st_gid) != (uid, gid):
                    os.chown(staging, uid, gid)  # a TazPod image made by root
                os.chmod(staging, 0o700)
                linux.mount(staging, target, None, linux.MS_MOVE)
            except BaseException:
                linux.umount(staging, linux.MNT_DETACH)
                raise
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(staging)

    def _mount_checked(self, staging: str) -> None:
        """Mount; if the kernel finds damage that looked clean, check thoroughly once."""
        try:
            linux.mount(self.device, staging, "ext4", linux.MS_NOSUID | linux.MS_NODEV)
            return
        except OSError as err:
            if err.errno != errno.EUCLEAN:
                raise
        self.check(lambda _message: None, force=True)  # raises when it cannot repair
        linux.mount(self.device, staging, "ext4", linux.MS_NOSUID | linux.MS_NODEV)

    def fill(self, root: Path) -> str:
        free = os.statvfs(root)
        return (
            f"{len(os.listdir(root))} entries, {free.f_bavail * free.f_frsize // (1024 * 1024)}"
            " MiB free"
        )

    def save(self, root: Path) -> str:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            linux.syncfs(fd)
            stats = os.fstatvfs(fd)
        finally:
            os.close(fd)
        used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
        return f"flushed to disk, {used // 1024} KiB in use"

    def rescue(self, root: Path, places: list[Path]) -> Path:
        raise VaultError(
            f"could not flush the vault's file system ({self.device})",
            hint="the ext4 journal keeps what reached the disk; check `dmesg` for I/O errors",
        )

    def release(self) -> list[str]:
        if self.closed:
            return []
        for _attempt in range(20):  # a lazily unmounted file system lets go in a moment
            result = cryptsetup.close_device(self.name)
            if result.returncode != cryptsetup.BUSY:
                break
            time.sleep(0.1)
        if result.returncode != 0:
            return [f"{self.device}: {result.stderr.strip() or 'busy'}"]
        self.closed = True
        return []
