"""The ram backend's files, without privileges: create, unwrap, seal, rewrap."""

from __future__ import annotations

import stat
from pathlib import Path

import pyrage
import pytest

from tazpod.errors import VaultError, WrongPassphraseError
from tazpod.vault import seal
from tazpod.vault.age_files import RamVault, VaultKey


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[RamVault, VaultKey]:
    vault = RamVault(tmp_path_factory.mktemp("v") / "vault")
    return vault, vault.create("pass phrase")


def test_create_writes_two_private_age_files(sealed: tuple[RamVault, VaultKey]) -> None:
    vault, _ = sealed
    assert vault.exists()
    assert stat.S_IMODE(vault.directory.stat().st_mode) == 0o700
    for path in (vault.identity_path, vault.vault_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"age-encryption.org/v1\n")


def test_unwrap_and_decrypt(sealed: tuple[RamVault, VaultKey]) -> None:
    vault, created = sealed
    key = vault.unwrap("pass phrase")
    assert str(key.recipient) == str(created.recipient)
    assert key.requires_seal and key.seal_key == created.seal_key
    assert vault.open_archive(key) == (seal.END_OF_ARCHIVE, True)


def test_wrong_passphrase(sealed: tuple[RamVault, VaultKey]) -> None:
    vault, _ = sealed
    before = vault.identity_path.read_bytes()
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        vault.unwrap("nope")
    assert vault.identity_path.read_bytes() == before


def test_seal_keeps_one_previous_generation(tmp_path: Path) -> None:
    vault = RamVault(tmp_path / "v")
    key = vault.create("p")
    vault.seal(b"first" + b"\0" * 1019, key.recipient)
    vault.seal(b"second" + b"\0" * 1018, key.recipient)
    assert vault.decrypt(vault.unwrap("p")).startswith(b"second")
    previous = pyrage.decrypt(vault.previous_path.read_bytes(), [key.identity])
    assert previous.startswith(b"first")
    assert sorted(p.name for p in vault.directory.iterdir()) == [
        "identity.age",
        "vault.age",
        "vault.age.1",
    ]


def test_rewrap_changes_only_the_identity(tmp_path: Path) -> None:
    vault = RamVault(tmp_path / "v")
    vault.create("old")
    sealed_before = vault.vault_path.read_bytes()
    vault.rewrap(vault.unwrap("old"), "new")
    assert vault.vault_path.read_bytes() == sealed_before
    with pytest.raises(WrongPassphraseError):
        vault.unwrap("old")
    assert vault.unwrap("new").requires_seal
    assert vault.open_archive(vault.unwrap("new")) == (seal.END_OF_ARCHIVE, True)


def test_half_a_vault_is_an_error(tmp_path: Path) -> None:
    vault = RamVault(tmp_path / "v")
    vault.create("p")
    vault.vault_path.unlink()
    with pytest.raises(VaultError, match=r"vault\.age is missing"):
        vault.exists()


def test_stale_temps_are_removed(tmp_path: Path) -> None:
    vault = RamVault(tmp_path / "v")
    vault.create("p")
    (vault.directory / ".vault.age.tmp-abc").write_bytes(b"partial")
    (vault.directory / ".vault.age.1.tmp").write_bytes(b"partial")
    assert {p.name for p in vault.remove_stale_temps()} == {
        ".vault.age.tmp-abc",
        ".vault.age.1.tmp",
    }
    assert vault.exists()


def test_corrupt_vault_file(tmp_path: Path) -> None:
    vault = RamVault(tmp_path / "v")
    vault.create("p")
    vault.vault_path.write_bytes(b"age-encryption.org/v1\n-> X25519 garbage\n")
    with pytest.raises(VaultError, match="cannot be decrypted"):
        vault.decrypt(vault.unwrap("p"))
