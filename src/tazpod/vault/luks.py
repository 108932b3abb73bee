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
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.errors import TazpodError, VaultBusyError, VaultError
from tazpod.sysio import cryptsetup, loop
from tazpod.sysio.creds import acting_as, fd_path
from tazpod.sysio.files import fsync_dir
from tazpod.vault.base import Ids, Report
from tazpod.vault.layout import LUKS_FILE
from tazpod.vault.luks_mapping import LuksMapping

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
    """The luks vault as a Vault (tazpod.vault.base): vault.img, closed."""

    directory: Path
    ids: Ids  # the enclave user's (uid, gid, groups): image files are touched only as them
    size_mib: int = 512
    kdf: cryptsetup.Kdf = field(default_factory=cryptsetup.Kdf)
    kind: str = "luks"

    @property
    def image_path(self) -> Path:
        return self.directory / LUKS_FILE

    @property
    def location(self) -> Path:
        return self.image_path

    @property
    def filling_note(self) -> str:
        return "copying the files into the new luks vault"

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
    def create(self, passphrase: str, report: Report) -> LuksMapping:
        self.format_image(passphrase, report)
        return self.open(passphrase, report)

    def format_image(self, passphrase: str, report: Report) -> None:
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

    def tidy(self, report: Report) -> None:
        for stale in self.remove_stale_temps():
            report(f"removed {stale.name}, left by an interrupted create")

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
    @contextlib.contextmanager
    def opener(self, report: Report) -> Iterator[Callable[[str], LuksMapping]]:
        """Clean up and check the image once; each attempt maps it and checks its ext4 (root)."""
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

            def attempt(passphrase: str) -> LuksMapping:
                attached = loop.attach(fd, str(self.image_path))
                try:
                    cryptsetup.open_device(attached.path, name, passphrase)
                finally:
                    attached.close()
                return self._checked(LuksMapping(name, self.image_path), report)

            yield attempt
        finally:
            os.close(fd)

    def _checked(self, mapping: LuksMapping, report: Report) -> LuksMapping:
        try:
            mapping.check(report)
        except BaseException:
            mapping.release()
            raise
        return mapping

    def open(self, passphrase: str, report: Report) -> LuksMapping:
        with self.opener(report) as attempt:
            return attempt(passphrase)

    def verify(self, passphrase: str) -> int:
        """The keyslot ``passphrase`` opens (cryptsetup as root); WrongPassphraseError if none."""
        fd = self.open_image()
        try:
            return cryptsetup.unlocked_slot(fd_path(fd), passphrase, pass_fds=(fd,))
        finally:
            os.close(fd)

    # -- passphrases and facts ---------------------------------------------------------------
    def change_passphrase(self, old: str, new: str, report: Report, proof: object = None) -> None:
        """Add the new key, prove it, then remove the old one: never without a valid key."""
        old_slot = proof if isinstance(proof, int) else None  # verify()'s keyslot
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
        report("passphrase changed (new LUKS keyslot verified, old keyslot removed)")

    def keyslots(self) -> list[int]:
        fd = self.open_image()
        try:
            return cryptsetup.keyslots(fd_path(fd), pass_fds=(fd,))
        finally:
            os.close(fd)

    def describe(self) -> list[str]:
        if not self.image_path.is_file():
            return ["vault file:  none yet (created at the first `tazpod unlock`)"]
        size = self.image_path.stat().st_size
        return [f"vault file:  {self.image_path} ({size // (1024 * 1024)} MiB LUKS image)"]

    def details(self, open_elsewhere: bool) -> list[str]:
        lines = []
        if self.exists():
            try:
                slots = self.keyslots()
            except TazpodError as err:
                lines.append(f"keyslots:    unknown ({err.message})")
            else:
                lines.append(f"keyslots:    {len(slots)} in use ({', '.join(map(str, slots))})")
        if open_elsewhere:
            lines.append("space:       shown inside the enclave (`tazpod vault status` there)")
        return lines


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
