"""What every backend provides once opened: the plaintext, mounted in the enclave.

The enclave (tazpod.enclave.session) works only through OpenedVault; opening a
closed vault is backend-specific (tazpod.enclave.service picks the backend).

Backends: ``ram`` (tazpod.vault.ram, age files unpacked into a tmpfs) and
``luks`` (tazpod.vault.luks, TazPod's vault.img through dm-crypt).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

Report = Callable[[str], None]


class OpenedVault(Protocol):
    kind: str  # the backend's name

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
