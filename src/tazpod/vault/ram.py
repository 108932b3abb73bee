"""The `ram` backend: age files (tazpod.vault.age_files) unpacked into a tmpfs.

RamOpened is an opened vault (the tmpfs, sealed on save); RamBackend is the Vault
interface (tazpod.vault.base) over the files, doing the file work with the vault
owner's rights.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.errors import VaultError
from tazpod.sysio import linux
from tazpod.sysio.creds import acting_as
from tazpod.vault import seal, tarball
from tazpod.vault.age_files import RamVault, Recipient, VaultKey, encrypt_to
from tazpod.vault.base import Ids, Report
from tazpod.vault.layout import RESCUE_PREFIX, RESCUE_SUFFIX, VAULT_FILE


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


@dataclass
class RamOpened:
    """An opened ram vault: a tmpfs that the archive is unpacked into, sealed on save."""

    vault: RamVault
    recipient: Recipient
    seal_key: bytes = field(repr=False)
    archive: bytes | None = field(repr=False)
    size_mib: int
    kind: str = "ram"
    user_namespace_mount: bool = True

    def mount(self, target: str, uid: int, gid: int) -> None:
        options = f"size={self.size_mib}m,mode=0700,uid={uid},gid={gid}"
        linux.mount("tazpod-vault", target, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, options)

    def fill(self, root: Path) -> str:
        archive, self.archive = self.archive or tarball.pack_empty(), None
        if os.listdir(root):
            raise VaultError(f"{root} changed while the vault was mounted")
        if len(archive) > self.size_mib * 1024 * 1024 * 0.95:
            raise VaultError(
                f"the vault holds {len(archive) // (1024 * 1024)} MiB, more than its"
                f" {self.size_mib} MiB of RAM",
                hint="raise vault.size in .tazpod/config.yaml",
            )
        return _files(tarball.unpack(archive, root))

    def save(self, root: Path) -> str:
        size, left_out = self.vault.seal_tree(root, self.recipient, self.seal_key, None)
        if not left_out:
            return f"{size} bytes sealed"
        shown = ", ".join(left_out[:5]) + (" ..." if len(left_out) > 5 else "")
        return (
            f"{size} bytes sealed; left out, as no open would accept them (links out of the"
            f" vault, files larger than it): {shown}"
        )

    def rescue(self, root: Path, places: list[Path]) -> Path:
        """Seal to a rescue file in the first writable place (the vault dir was not)."""
        import tempfile

        sealed = encrypt_to(seal.sign(tarball.pack(root), self.seal_key), self.recipient)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        failures = []
        for directory in places:
            try:  # a unique name (mkstemp: 0600, O_EXCL), never over an earlier rescue
                fd, name = tempfile.mkstemp(RESCUE_SUFFIX, f"{RESCUE_PREFIX}{stamp}-", directory)
            except OSError as err:
                failures.append(f"{directory}: {err.strerror}")
                continue
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(sealed)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as err:
                os.unlink(name)
                failures.append(f"{directory}: {err.strerror}")
                continue
            return Path(name)
        raise VaultError(
            "could not save the vault, nor a rescue copy: " + "; ".join(failures),
            hint="the enclave is still open: free space, then run `tazpod vault save` again",
        )

    def release(self) -> list[str]:
        return []


@dataclass(frozen=True)
class RamBackend:
    """The ram vault as a Vault: its files, touched only with their owner's rights."""

    disk: RamVault
    ids: Ids  # the owner's; root acts as them for every file operation
    size_mib: int  # the tmpfs an opened vault unpacks into
    kind: str = "ram"

    @property
    def directory(self) -> Path:
        return self.disk.directory

    @property
    def location(self) -> Path:
        return self.disk.directory

    @property
    def filling_note(self) -> str:
        return "writing the new ram vault (age)"

    def _as_owner(self) -> contextlib.AbstractContextManager[None]:
        return acting_as(*self.ids)

    def exists(self) -> bool:
        with self._as_owner():
            return self.disk.exists()

    def files(self) -> list[Path]:
        with self._as_owner():
            return self.disk.files()

    def tidy(self, report: Report) -> None:
        with self._as_owner():
            stale = self.disk.remove_stale_temps()
        for path in stale:
            report(f"removed {path.name}, left by an interrupted save")

    def create(self, passphrase: str, report: Report) -> RamOpened:
        with self._as_owner():
            key = self.disk.create(passphrase)
        return RamOpened(
            self.disk, key.recipient, key.seal_key, tarball.pack_empty(), self.size_mib
        )

    def verify(self, passphrase: str) -> VaultKey:
        with self._as_owner():
            return self.disk.unwrap(passphrase)

    @contextlib.contextmanager
    def opener(self, report: Report) -> Iterator[Callable[[str], RamOpened]]:
        yield lambda passphrase: self.open(passphrase, report)

    def open(self, passphrase: str, report: Report) -> RamOpened:
        with self._as_owner():
            key = self.disk.unwrap(passphrase)
            archive, was_sealed = self.disk.open_archive(key)
            if not key.requires_seal:
                self.disk.add_seal(key, archive, was_sealed, passphrase)
                report(
                    f"{VAULT_FILE} is sealed from now on (written by an older tazpod, it had"
                    " no seal): a vault.age that its identity's holder did not write will be"
                    " refused"
                )
        return RamOpened(self.disk, key.recipient, key.seal_key, archive, self.size_mib)

    def change_passphrase(self, old: str, new: str, report: Report, proof: object = None) -> None:
        with self._as_owner():
            key = proof if isinstance(proof, VaultKey) else self.disk.unwrap(old)
            self.disk.rewrap(key, new)
        report("passphrase changed (identity.age re-wrapped; vault.age unchanged)")

    def destroy(self) -> list[Path]:
        with self._as_owner():
            return self.disk.destroy()

    def describe(self) -> list[str]:
        sealed, previous = self.disk.vault_path, self.disk.previous_path
        if not sealed.is_file():
            return ["vault file:  none yet (created at the first `tazpod unlock`)"]
        lines = [f"vault file:  {sealed} ({sealed.stat().st_size} bytes, encrypted)"]
        if previous.is_file():
            lines.append(f"previous generation kept ({previous.name})")
        return lines

    def details(self, open_elsewhere: bool) -> list[str]:
        return []
