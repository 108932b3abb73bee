"""An opened luks vault: the dm-crypt mapping of vault.img, and its ext4 file system.

Made by tazpod.vault.luks once a passphrase opened the image; mounted into
the enclave (or a migration's namespace) and closed again here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import VaultError
from tazpod.sysio import cryptsetup, linux
from tazpod.vault.base import Report

_STAGING = Path("/run/tazpod/mnt")


@dataclass
class LuksMapping:
    """An opened luks vault: /dev/mapper/<name>, mounted into the enclave by mount()."""

    name: str
    image: Path  # the vault.img it maps, for hints
    kind: str = "luks"
    user_namespace_mount: bool = False  # ext4 on a dm-crypt device: the host kernel's mount
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
                f" {self.image} tazpod-repair`, `e2fsck -f /dev/mapper/tazpod-repair`,"
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
        count = _count_files(root)
        return (
            f"{count} file{'' if count == 1 else 's'},"
            f" {free.f_bavail * free.f_frsize // (1024 * 1024)} MiB free"
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


def _count_files(root: Path) -> int:
    """Files and links in the vault, as the ram backend counts them (not its own dirs)."""
    count = 0
    for directory, dirnames, filenames in os.walk(root):
        if directory == str(root):
            dirnames[:] = [d for d in dirnames if d not in ("lost+found", ".tazpod")]
        links = [d for d in dirnames if os.path.islink(os.path.join(directory, d))]
        count += len(filenames) + len(links)
    return count
