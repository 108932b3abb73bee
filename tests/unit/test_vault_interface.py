"""The Vault interface and its factory, against the ram backend's real age files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from tazpod.errors import UsageError, VaultError, WrongPassphraseError
from tazpod.project.config import VaultConfig
from tazpod.vault import prompts, seal, tarball, unlocking
from tazpod.vault.base import Report, Vault
from tazpod.vault.factory import needs_block_devices, vault_for
from tazpod.vault.luks import LuksVault
from tazpod.vault.prompts import PassphraseSource
from tazpod.vault.ram import RamBackend, RamOpened

OWN = (os.getuid(), os.getgid(), ())


class Said(list[str]):
    """A report() that keeps what it was told."""

    def __call__(self, message: str) -> None:
        self.append(message)


def value(passphrase: str) -> PassphraseSource:
    return PassphraseSource(value=passphrase)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    """One ram vault for the tests that do not change it (scrypt is slow on purpose)."""
    vault = vault_for(VaultConfig(), tmp_path_factory.mktemp("v") / "vault")
    vault.create("right", lambda _message: None)
    return vault


def test_factory_picks_the_backend_from_the_settings(tmp_path: Path) -> None:
    ram = vault_for(VaultConfig(size_mib=80), tmp_path)
    assert isinstance(ram, RamBackend)
    assert (ram.kind, ram.directory, ram.location, ram.size_mib) == ("ram", tmp_path, tmp_path, 80)
    assert ram.ids == OWN  # this process's own rights unless told whose vault it is
    luks = vault_for(
        VaultConfig("luks", 48, kdf_time_ms=150, kdf_memory_mib=64), tmp_path, (1, 2, (3,))
    )
    assert isinstance(luks, LuksVault)
    assert (luks.kind, luks.location, luks.size_mib) == ("luks", tmp_path / "vault.img", 48)
    assert luks.ids == (1, 2, (3,))
    assert (luks.kdf.time_ms, luks.kdf.memory_mib) == (150, 64)


def test_room_overrides_only_what_a_ram_vault_unpacks_into(tmp_path: Path) -> None:
    ram = vault_for(VaultConfig(size_mib=64), tmp_path, room_mib=1024)
    luks = vault_for(VaultConfig("luks", 48), tmp_path, room_mib=1024)
    assert isinstance(ram, RamBackend) and ram.size_mib == 1024
    assert isinstance(luks, LuksVault) and luks.size_mib == 48


def test_only_luks_needs_block_devices() -> None:
    assert needs_block_devices(VaultConfig("luks"))
    assert not needs_block_devices(VaultConfig("ram"))


def test_no_vault_yet(tmp_path: Path) -> None:
    for settings in (VaultConfig(), VaultConfig("luks")):
        vault = vault_for(settings, tmp_path / "vault")
        assert not vault.exists() and vault.files() == [] and vault.destroy() == []
        assert vault.describe() == ["vault file:  none yet (created at the first `tazpod unlock`)"]
        assert vault.details(open_elsewhere=False) == []


def test_luks_describes_its_image_and_where_its_space_is_shown(tmp_path: Path) -> None:
    vault = vault_for(VaultConfig("luks"), tmp_path)
    assert vault.details(open_elsewhere=True) == [
        "space:       shown inside the enclave (`tazpod vault status` there)"
    ]
    with open(tmp_path / "vault.img", "wb") as image:
        image.truncate(3 * 1024 * 1024)
    assert vault.describe() == [f"vault file:  {tmp_path / 'vault.img'} (3 MiB LUKS image)"]


def test_create_opens_the_new_empty_vault(tmp_path: Path) -> None:
    vault = vault_for(VaultConfig(size_mib=70), tmp_path / "vault")
    opened = vault.create("p", lambda _message: None)
    assert isinstance(opened, RamOpened) and opened.kind == "ram" and opened.size_mib == 70
    assert opened.archive == tarball.pack_empty()
    assert vault.exists()
    assert sorted(p.name for p in vault.files()) == ["identity.age", "vault.age"]


def test_describe_a_ram_vault(made: Vault) -> None:
    sealed = made.directory / "vault.age"
    assert made.describe() == [f"vault file:  {sealed} ({sealed.stat().st_size} bytes, encrypted)"]
    assert made.details(open_elsewhere=True) == []


def test_verify_and_open_take_a_plain_passphrase(made: Vault) -> None:
    with pytest.raises(WrongPassphraseError):
        made.verify("wrong")
    with made.opener(lambda _message: None) as attempt:  # tried again after a wrong one
        with pytest.raises(WrongPassphraseError):
            attempt("wrong")
        opened = attempt("right")
    assert isinstance(opened, RamOpened) and opened.archive == seal.END_OF_ARCHIVE


def test_open_or_create_makes_a_vault_at_the_first_unlock_then_opens_it(tmp_path: Path) -> None:
    vault = vault_for(VaultConfig(), tmp_path / "vault")
    said = Said()
    unlocking.open_or_create(vault, value("p"), said, lambda _n: None)
    assert said == [f"created a new vault in {tmp_path / 'vault'}"]
    (tmp_path / "vault" / ".vault.age.tmp-x").write_bytes(b"partial")
    said.clear()
    opened = unlocking.open_or_create(vault, value("p"), said, lambda _n: None)
    assert opened.kind == "ram"
    assert said == ["removed .vault.age.tmp-x, left by an interrupted save"]


class Picky:
    """A vault that knows one passphrase and opens instantly: the loop, not the KDF, on test."""

    kind = "picky"

    def verify(self, passphrase: str) -> None:
        if passphrase != "right":
            raise WrongPassphraseError("wrong passphrase for the vault")

    @contextlib.contextmanager
    def opener(self, report: Report) -> Iterator[Callable[[str], str]]:
        def attempt(passphrase: str) -> str:
            self.verify(passphrase)
            return f"opened with {passphrase}"

        yield attempt


def test_the_one_retry_loop_counts_down_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    vault = cast(Vault, Picky())
    typed: Iterator[str] = iter(["no", "nope", "right"])
    monkeypatch.setattr(prompts, "_prompt", lambda _label: next(typed))
    left: list[int] = []
    opened, passphrase = unlocking.open_existing(vault, PassphraseSource(), print, left.append)
    assert (cast(str, opened), passphrase, left) == ("opened with right", "right", [2, 1])
    typed = iter(["a", "b", "c", "right"])
    left.clear()
    with pytest.raises(WrongPassphraseError):
        unlocking.prove(vault, PassphraseSource(), left.append)
    assert left == [2, 1]


def test_a_file_passphrase_gets_one_attempt(made: Vault) -> None:
    left: list[int] = []
    with pytest.raises(WrongPassphraseError):
        unlocking.prove(made, value("wrong"), left.append)
    assert left == []
    assert unlocking.prove(made, value("right"), left.append) == "right"


def test_change_passphrase_unwraps_the_identity_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = vault_for(VaultConfig(), tmp_path / "vault")
    assert isinstance(vault, RamBackend)
    vault.create("old", lambda _message: None)
    sealed = (tmp_path / "vault" / "vault.age").read_bytes()
    unwrap = type(vault.disk).unwrap
    calls: list[str] = []

    def counted(self: object, passphrase: str) -> object:
        calls.append(passphrase)
        return unwrap(vault.disk, passphrase)

    monkeypatch.setattr(type(vault.disk), "unwrap", counted)
    said = Said()
    unlocking.change_passphrase(vault, value("old"), value("new"), said, lambda _n: None)
    assert calls == ["old"]
    assert said == ["passphrase changed (identity.age re-wrapped; vault.age unchanged)"]
    assert (tmp_path / "vault" / "vault.age").read_bytes() == sealed
    monkeypatch.undo()
    with pytest.raises(WrongPassphraseError):
        vault.verify("old")
    vault.verify("new")


def test_change_passphrase_needs_a_vault(tmp_path: Path) -> None:
    vault = vault_for(VaultConfig(), tmp_path / "vault")
    with pytest.raises(VaultError, match="no vault in"):
        unlocking.change_passphrase(vault, value("a"), value("b"), print, lambda _n: None)


def test_a_new_passphrase_typed_twice_must_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = vault_for(VaultConfig(), tmp_path / "vault")
    typed = iter(["one", "two"])
    monkeypatch.setattr(prompts, "_prompt", lambda _label: next(typed))
    with pytest.raises(UsageError, match="differ"):
        unlocking.open_or_create(vault, PassphraseSource(), print, lambda _n: None)
    assert not vault.exists()


def test_destroy_removes_every_generation(tmp_path: Path) -> None:
    vault = vault_for(VaultConfig(), tmp_path / "vault")
    opened = vault.create("p", lambda _message: None)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "secret").write_text("x")
    opened.save(tree)
    names = sorted(p.name for p in vault.destroy())
    assert names == ["identity.age", "vault.age", "vault.age.1"]
    assert not vault.exists()
