"""The two faces of every backend: a closed vault on disk, and the vault once opened.

Everything outside tazpod.vault works through these two interfaces; only
tazpod.vault.factory knows the backends by name. Adapters take plain
passphrase strings; asking for one (and retrying a wrong one) is
tazpod.vault.unlocking's job.

Backends: ``ram`` (tazpod.vault.ram, age files unpacked into a tmpfs) and
``luks`` (tazpod.vault.luks, TazPod's vault.img through dm-crypt).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

Report = Callable[[str], None]
Ids = tuple[int, int, tuple[int, ...]]  # (uid, gid, groups) whose rights touch the files
# What verify() found (ram: the unwrapped identity, luks: the keyslot), opaque to
# callers: handed back to change_passphrase() so that the slow KDF runs once. Drop it
# when done with it: it can be key material.
Proof = object


class OpenedVault(Protocol):
    kind: str  # the backend's name
    # Whether root of a user namespace can mount it (a tmpfs can; a dm-crypt device's
    # file system cannot): the enclave then needs no CAP_SYS_ADMIN where it runs.
    user_namespace_mount: bool

    def mount(self, target: str, uid: int, gid: int) -> None:
        """As root, inside the enclave's private namespace: put the plaintext at ``target``."""
        ...

    def fill(self, root: Path) -> str:
        """As the user, once mounted: populate the tree; returns what to tell the user."""
        ...

    def save(self, root: Path) -> str:
        """As the user: make the tree durable; returns what was saved, for the user."""
        ...

    def rescue(self, root: Path, places: list[Path]) -> Path:
        """As the user, when save() failed: a sealed copy somewhere else, or VaultError."""
        ...

    def release(self) -> list[str]:
        """As root, after every mount is gone: free what open() took; returns problems."""
        ...


class Vault(Protocol):
    """A closed vault: its files in ``directory``, and what a passphrase unlocks in them.

    Callable as root or as the vault's owner: the adapter touches the files with
    the owner's rights either way.
    """

    @property
    def kind(self) -> str: ...

    @property
    def directory(self) -> Path: ...

    @property
    def location(self) -> Path:
        """Where the vault is, for messages (its directory, or its one file)."""
        ...

    @property
    def filling_note(self) -> str:
        """What a migration tells the user while it copies a tree into this new vault."""
        ...

    def exists(self) -> bool:
        """True when there is a vault; VaultError when only part of one is there."""
        ...

    def files(self) -> list[Path]: ...

    def tidy(self, report: Report) -> None:
        """Remove what an interrupted save or create left (only while holding the lock)."""
        ...

    def create(self, passphrase: str, report: Report) -> OpenedVault:
        """A new, empty vault, opened (the passphrase was just chosen: no retries)."""
        ...

    def verify(self, passphrase: str) -> Proof:
        """Prove the passphrase without opening anything; WrongPassphraseError if not."""
        ...

    def opener(self, report: Report) -> AbstractContextManager[Callable[[str], OpenedVault]]:
        """Get ready to open once, then try passphrases with the function it yields.

        The function raises WrongPassphraseError for a wrong one and may be called again.
        """
        ...

    def open(self, passphrase: str, report: Report) -> OpenedVault:
        """Open with a passphrase known to be right (a single attempt)."""
        ...

    def change_passphrase(self, old: str, new: str, report: Report, proof: Proof = None) -> None:
        """Replace the passphrase, never leaving the vault without one that opens it.

        ``proof``: what verify(old) returned, if it was just called.
        """
        ...

    def destroy(self) -> list[Path]:
        """Remove the vault's files; returns what was removed."""
        ...

    def describe(self) -> list[str]:
        """What can be said of the files without a passphrase (`tazpod status`)."""
        ...

    def details(self, open_elsewhere: bool) -> list[str]:
        """What `tazpod vault status` adds; ``open_elsewhere``: an enclave holds it."""
        ...
