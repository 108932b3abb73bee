"""The one place that knows the backends by name: a project's vault from its settings.

Adapters are imported only when asked for: `luks` brings cryptsetup and loop
devices, `ram` brings age; neither belongs on the start-up path.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from tazpod.project.config import VaultConfig
    from tazpod.vault.base import Ids, Vault


def vault_for(
    settings: VaultConfig, directory: Path, ids: Ids | None = None, room_mib: int | None = None
) -> Vault:
    """The closed vault in ``directory``, its files touched with ``ids``' rights.

    ``ids``: whose vault it is (default: this process's own). ``room_mib``: RAM
    to unpack into instead of vault.size, for backends that unpack (a
    migration's generous workspace).
    """
    if ids is None:
        ids = (os.getuid(), os.getgid(), ())
    _refuse_links(directory)
    if settings.backend == "luks":
        from tazpod.sysio.cryptsetup import Kdf
        from tazpod.vault.luks import LuksVault

        kdf = Kdf(settings.kdf_time_ms, settings.kdf_memory_mib)
        return LuksVault(directory, ids, settings.size_mib, kdf)
    from tazpod.vault.age_files import RamVault
    from tazpod.vault.ram import RamBackend

    return RamBackend(RamVault(directory), ids, room_mib or settings.size_mib)


def _refuse_links(directory: Path) -> None:
    """The vault's directory and `.tazpod/` are real directories, never links.

    Both are in the workspace, where a session in the container (or a commit) can put a
    link: the host, root included, would then read, write and destroy vault files in a
    directory the link chooses.
    """
    from tazpod.errors import VaultError

    for path in (directory.parent, directory):
        if path.is_symlink():
            raise VaultError(
                f"{path} is a symbolic link (to {os.readlink(path)}); tazpod keeps the vault"
                " only in a real directory of the project",
                hint=f"remove the link (rm {path}); if the vault is where it points, move it"
                f" back: mv {os.readlink(path)} {path}",
            )


def needs_block_devices(settings: VaultConfig) -> bool:
    """Whether the container must be given loop and device-mapper devices for the vault."""
    return settings.backend == "luks"
