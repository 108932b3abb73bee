"""The ram vault's files, in standard age: recoverable without tazpod.

    .tazpod/vault/identity.age   an X25519 identity, passphrase-encrypted (scrypt)
    .tazpod/vault/vault.age      a tar of the vault tree, encrypted to that identity
    .tazpod/vault/vault.age.1    the previous generation

`age -d -i identity.age vault.age | tar -x` recovers everything. Saving needs
only the public recipient and the seal's key (tazpod.vault.seal: it proves the
vault was written by the identity's holder, and decrypts nothing), so after
unlock neither the passphrase nor the private key is kept; a passphrase change
re-wraps identity.age alone.
"""

from __future__ import annotations

import datetime
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tazpod.errors import VaultError, WrongPassphraseError
from tazpod.sysio.files import atomic_writer, fsync_dir, write_atomic
from tazpod.vault import seal, tarball
from tazpod.vault.layout import IDENTITY_FILE, PREVIOUS_SUFFIX, VAULT_FILE

Identity = Any  # pyrage.x25519.Identity (untyped extension module)
Recipient = Any  # pyrage.x25519.Recipient


def encrypt_to(archive: bytes, recipient: Recipient) -> bytes:
    import pyrage

    return bytes(pyrage.encrypt(archive, [recipient]))


@dataclass(frozen=True)
class VaultKey:
    """What the passphrase unwraps: the identity, and whether its vaults must be sealed."""

    identity: Identity = field(repr=False)
    requires_seal: bool  # identity.age holds seal.SEAL_MARKER (false: written before seals)

    @property
    def recipient(self) -> Recipient:
        return self.identity.to_public()

    @property
    def seal_key(self) -> bytes:
        return seal.key_for(self.identity)


def _key_text(event: str, identity: Identity, sealed: bool) -> str:
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    marker = f"{seal.SEAL_MARKER}\n" if sealed else ""
    return f"# {event}: {when}\n# public key: {identity.to_public()}\n{marker}{identity}\n"


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

    def _read(self, path: Path) -> bytes:
        """A vault file's bytes: a regular file, never through a link (explained if not)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise VaultError(
                    f"{path} is a symbolic link; tazpod reads the vault's files only as"
                    " regular files",
                    hint=f'put the file itself there (cp --remove-destination "$(readlink -f'
                    f' {path})" {path}), or restore it from a backup',
                ) from err
            raise VaultError(
                f"cannot read {path}: {err.strerror}",
                hint="the vault's files must belong to the enclave's user (mode 0600)",
            ) from err
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def _prepare_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if self.owner is not None:
            os.chown(self.directory, *self.owner)

    def create(self, passphrase: str) -> VaultKey:
        """A new, empty vault (sealed from the start). Returns its key."""
        import pyrage

        self._prepare_dir()
        key = VaultKey(pyrage.x25519.Identity.generate(), requires_seal=True)
        key_text = _key_text("created", key.identity, sealed=True)
        self._write(self.identity_path, pyrage.passphrase.encrypt(key_text.encode(), passphrase))
        self.seal(seal.sign(tarball.pack_empty(), key.seal_key), key.recipient)
        return key

    def unwrap(self, passphrase: str) -> VaultKey:
        """Decrypt identity.age; WrongPassphraseError when the passphrase does not fit."""
        import pyrage

        sealed = self._read(self.identity_path)
        try:
            text = pyrage.passphrase.decrypt(sealed, passphrase).decode()
        except pyrage.DecryptError as err:
            raise WrongPassphraseError(
                "wrong passphrase for the vault", hint="the vault files were not changed"
            ) from err
        lines = text.splitlines()
        keys = [line for line in lines if line.startswith("AGE-SECRET-KEY-")]
        if len(keys) != 1:
            raise VaultError(f"{self.identity_path} does not hold exactly one age identity")
        identity = pyrage.x25519.Identity.from_str(keys[0])
        return VaultKey(identity, requires_seal=seal.SEAL_MARKER in lines)

    def decrypt(self, key: VaultKey) -> bytes:
        """vault.age's plaintext as it is (the seal not yet checked: see open_archive)."""
        import pyrage

        try:
            return bytes(pyrage.decrypt(self._read(self.vault_path), [key.identity]))
        except pyrage.DecryptError as err:
            raise VaultError(
                f"{self.vault_path} cannot be decrypted with this vault's identity",
                hint=f"the previous generation is {self.previous_path.name}",
            ) from err

    def open_archive(self, key: VaultKey) -> tuple[bytes, bool]:
        """vault.age's archive without its seal, and whether it had one.

        Refused (VaultError) when the seal does not match, or is missing although the
        identity says its vaults are sealed: then someone else wrote vault.age.
        """
        try:
            return seal.verify(self.decrypt(key), key.seal_key, key.requires_seal)
        except seal.SealError as err:
            raise VaultError(
                f"{self.vault_path} was not written by this vault's owner: {err}",
                hint="whoever can write .tazpod/vault can encrypt files to the vault's public"
                " key, but only the passphrase's holder can seal them; nothing was opened."
                f" {self.previous_path.name} is the generation before: look inside with"
                f" `age -d -i {IDENTITY_FILE} FILE | tar -tv` and move the one you trust"
                f" to {VAULT_FILE}",
            ) from err

    def add_seal(self, key: VaultKey, archive: bytes, was_sealed: bool, passphrase: str) -> None:
        """Make a vault from before seals a sealed one: vault.age first, then identity.age.

        In that order, a crash in between leaves a sealed vault.age that the old
        identity.age still opens (and this runs again).
        """
        if not was_sealed:
            self.seal(seal.sign(archive, key.seal_key), key.recipient)
        self.rewrap(VaultKey(key.identity, requires_seal=True), passphrase)

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
        seal_key: bytes,
        ids: tuple[int, int, tuple[int, ...]] | None,
        exclude: frozenset[str] = tarball.UNSEALED,
    ) -> tuple[int, list[str]]:
        """Seal a directory tree streaming (tar, seal and encryption run side by side).

        Returns the archive's size and the links left out (tazpod.vault.tarball.unsafe_links).
        vault.age is replaced only if tar succeeded.
        """
        import pyrage

        self._prepare_dir()
        stream = tarball.ArchiveStream(tree, ids, exclude)
        try:
            with atomic_writer(
                self.vault_path, 0o600, self.owner, keep_previous=self.previous_path
            ) as handle:
                reader = seal.SealingReader(stream, seal_key)
                try:
                    pyrage.encrypt_io(reader, handle, [recipient])
                except pyrage.EncryptError:
                    stream.finish()  # a tar that failed is the cause to name, if it did
                    if reader.failure is not None:  # then what the sealing refused
                        raise reader.failure from None
                    raise
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
        return stream.size, stream.left_out

    def rewrap(self, key: VaultKey, new_passphrase: str) -> None:
        """Passphrase change: only identity.age is rewritten (its seal marker kept)."""
        import pyrage

        key_text = _key_text("rewrapped", key.identity, key.requires_seal)
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
