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
    if settings.backend == "luks":
        from tazpod.sysio.cryptsetup import Kdf
        from tazpod.vault.luks import LuksVault

        kdf = Kdf(settings.kdf_time_ms, settings.kdf_memory_mib)
        return LuksVault(directory, ids, settings.size_mib, kdf)
    from tazpod.vault.ram import RamBackend, RamVault

    return RamBackend(RamVault(directory), ids, room_mib or settings.size_mib)


def needs_block_devices(settings: VaultConfig) -> bool:
    """Whether the container must be given loop and device-mapper devices for the vault."""
    return settings.backend == "luks"
