"""What every backend provides: a closed vault on disk, and an opened one in an enclave.

The enclave (tazpod.enclave.session) works only through these two shapes:

    ClosedVault   the files in .tazpod/vault: exists, passphrase check, stale-temp cleanup
    OpenedVault   the plaintext, reachable once mounted in the enclave's namespace

Backends: ``ram`` (tazpod.vault.ram, age files unpacked into a tmpfs) and
``luks`` (tazpod.vault.luks, TazPod's vault.img through dm-crypt).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

Report = Callable[[str], None]


class ClosedVault(Protocol):
    @property
    def directory(self) -> Path: ...

    def exists(self) -> bool: ...

    def files(self) -> list[Path]:
        """The files that hold this vault (what migrate and reinit remove)."""
        ...


class OpenedVault(Protocol):
    kind: str  # the backend's name

    def mount(self, target: str, uid: int, gid: int) -> None:
        """As root, inside the enclave's private namespace: put the plaintext at ``target``."""
        ...

    def fill(self, root: Path) -> str:
        """As the user, once mounted: populate the tree; returns what to tell the user."""
        ...

    def save(self, root: Path) -> int:
        """As the user: make the tree durable; returns the bytes written or in use."""
        ...

    def rescue(self, root: Path, places: list[Path]) -> Path:
        """As the user, when save() failed: a sealed copy somewhere else, or VaultError."""
        ...

    def release(self) -> list[str]:
        """As root, after every mount is gone: free what open() took; returns problems."""
        ...
