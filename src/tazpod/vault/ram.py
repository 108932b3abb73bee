"""The `ram` backend's files: standard age, recoverable without tazpod.

    .tazpod/vault/identity.age   an X25519 identity, passphrase-encrypted (scrypt)
    .tazpod/vault/vault.age      a tar of the vault tree, encrypted to that identity
    .tazpod/vault/vault.age.1    the previous generation

`age -d -i identity.age vault.age | tar -x` recovers everything. Saving needs
only the public recipient, so after unlock neither the passphrase nor the
private key is kept; a passphrase change re-wraps identity.age alone.

RamVault is the file format; RamBackend is the Vault interface over it
(tazpod.vault.base), doing the file work with the vault owner's rights.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tazpod.errors import VaultError, WrongPassphraseError
from tazpod.sysio import linux
from tazpod.sysio.creds import acting_as
from tazpod.sysio.files import atomic_writer, fsync_dir, write_atomic
from tazpod.vault import tarball
from tazpod.vault.base import Ids, Report
from tazpod.vault.layout import (
    IDENTITY_FILE,
    PREVIOUS_SUFFIX,
    RESCUE_PREFIX,
    RESCUE_SUFFIX,
    VAULT_FILE,
)

Identity = Any  # pyrage.x25519.Identity (untyped extension module)
Recipient = Any  # pyrage.x25519.Recipient


def encrypt_to(archive: bytes, recipient: Recipient) -> bytes:
    import pyrage

    return bytes(pyrage.encrypt(archive, [recipient]))


@dataclass(frozen=True)
class RamVault:
    directory: Path
    owner: tuple[int, int] | None = None  # the enclave user owns the files

    @property
    def vault_path(self) -> Path:
        return self.directory / VAULT_FILE

    @property
    def identity_path(self) -> Path:
        return self.directory / IDENTITY_FILE

    @property
    def previous_path(self) -> Path:
        return self.directory / (VAULT_FILE + PREVIOUS_SUFFIX)

    def exists(self) -> bool:
        has_identity = self.identity_path.is_file()
        has_vault = self.vault_path.is_file()
        if has_identity != has_vault:
            present, missing = (
                (self.identity_path, self.vault_path)
                if has_identity
                else (self.vault_path, self.identity_path)
            )
            raise VaultError(
                f"{present} exists but {missing} is missing",
                hint="restore the missing file from a backup; tazpod will not create a new"
                " vault over half of an old one",
            )
        return has_identity

    def files(self) -> list[Path]:
        paths = (self.vault_path, self.previous_path, self.identity_path)
        return [path for path in paths if path.exists()]

    def verify(self, passphrase: str) -> None:
        self.unwrap(passphrase)

    def _prepare_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if self.owner is not None:
            os.chown(self.directory, *self.owner)

    def create(self, passphrase: str) -> Recipient:
        """A new, empty vault. Returns the recipient to seal to."""
        import pyrage

        self._prepare_dir()
        identity = pyrage.x25519.Identity.generate()
        recipient = identity.to_public()
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        key_text = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
        self._write(self.identity_path, pyrage.passphrase.encrypt(key_text.encode(), passphrase))
        self.seal(tarball.pack_empty(), recipient)
        return recipient

    def unwrap(self, passphrase: str) -> Identity:
        """Decrypt identity.age; WrongPassphraseError when the passphrase does not fit."""
        import pyrage

        sealed = self.identity_path.read_bytes()
        try:
            text = pyrage.passphrase.decrypt(sealed, passphrase).decode()
        except pyrage.DecryptError as err:
            raise WrongPassphraseError(
                "wrong passphrase for the vault", hint="the vault files were not changed"
            ) from err
        keys = [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-")]
        if len(keys) != 1:
            raise VaultError(f"{self.identity_path} does not hold exactly one age identity")
        return pyrage.x25519.Identity.from_str(keys[0])

    def decrypt(self, identity: Identity) -> bytes:
        import pyrage

        try:
            return bytes(pyrage.decrypt(self.vault_path.read_bytes(), [identity]))
        except pyrage.DecryptError as err:
            raise VaultError(
                f"{self.vault_path} cannot be decrypted with this vault's identity",
                hint=f"the previous generation is {self.previous_path.name}",
            ) from err

    def seal(self, archive: bytes, recipient: Recipient) -> None:
        """Encrypt and replace vault.age atomically, keeping the previous generation."""
        ciphertext = encrypt_to(archive, recipient)
        self._prepare_dir()
        write_atomic(
            self.vault_path, ciphertext, 0o600, self.owner, keep_previous=self.previous_path
        )

    def seal_tree(
        self,
        tree: Path,
        recipient: Recipient,
        ids: tuple[int, int, tuple[int, ...]] | None,
        exclude: frozenset[str] = tarball.UNSEALED,
    ) -> int:
        """Seal a directory tree streaming (tar and encryption run side by side).

        Returns the archive's size. vault.age is replaced only if tar succeeded.
        """
        import pyrage

        self._prepare_dir()
        stream = tarball.ArchiveStream(tree, ids, exclude)
        try:
            with atomic_writer(
                self.vault_path, 0o600, self.owner, keep_previous=self.previous_path
            ) as handle:
                pyrage.encrypt_io(stream, handle, [recipient])
                stream.finish()
        except (OSError, pyrage.EncryptError) as err:  # a write failed (ENOSPC, EFBIG, EIO)
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise VaultError(
                f"could not write {self.vault_path.name} in {self.directory}: {reason}",
                hint="free space there; the previous vault.age is unchanged",
            ) from err
        finally:
            if stream.process.poll() is None:
                stream.process.kill()
                stream.process.wait()
        return stream.size

    def rewrap(self, identity: Identity, new_passphrase: str) -> None:
        """Passphrase change: only identity.age is rewritten."""
        import pyrage

        recipient = identity.to_public()
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        key_text = f"# rewrapped: {created}\n# public key: {recipient}\n{identity}\n"
        sealed = pyrage.passphrase.encrypt(key_text.encode(), new_passphrase)
        self._write(self.identity_path, sealed)

    def remove_stale_temps(self) -> list[Path]:
        """Temp files a killed save left behind (only call while holding the vault lock)."""
        stale = [p for p in self.directory.glob(".*.tmp*") if p.is_file()]
        for path in stale:
            path.unlink()
        return stale

    def destroy(self) -> list[Path]:
        removed = self.files()
        for path in removed:
            path.unlink()
        self.remove_stale_temps()
        if self.directory.exists():
            fsync_dir(self.directory)
        return removed

    def _write(self, path: Path, data: bytes) -> None:
        self._prepare_dir()
        write_atomic(path, data, mode=0o600, owner=self.owner)


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


@dataclass
class RamOpened:
    """An opened ram vault: a tmpfs that the archive is unpacked into, sealed on save."""

    vault: RamVault
    recipient: Recipient
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
        return f"{self.vault.seal_tree(root, self.recipient, None)} bytes sealed"

    def rescue(self, root: Path, places: list[Path]) -> Path:
        """Seal to a rescue file in the first writable place (the vault dir was not)."""
        import tempfile

        sealed = encrypt_to(tarball.pack(root), self.recipient)
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
            recipient = self.disk.create(passphrase)
        return RamOpened(self.disk, recipient, tarball.pack_empty(), self.size_mib)

    def verify(self, passphrase: str) -> Identity:
        with self._as_owner():
            return self.disk.unwrap(passphrase)

    @contextlib.contextmanager
    def opener(self, report: Report) -> Iterator[Callable[[str], RamOpened]]:
        yield lambda passphrase: self.open(passphrase, report)

    def open(self, passphrase: str, report: Report) -> RamOpened:
        with self._as_owner():
            identity = self.disk.unwrap(passphrase)
            archive = self.disk.decrypt(identity)
        return RamOpened(self.disk, identity.to_public(), archive, self.size_mib)

    def change_passphrase(self, old: str, new: str, report: Report, proof: object = None) -> None:
        with self._as_owner():
            identity = proof if proof is not None else self.disk.unwrap(old)
            self.disk.rewrap(identity, new)
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
