"""`tazpod vault passwd`: change the passphrase.

ram: re-wraps identity.age only. luks: adds a keyslot for the new passphrase,
verifies it, then removes the old one (never a moment without a valid key).
"""

from __future__ import annotations

import argparse
import os
import pwd
from collections.abc import Callable
from pathlib import Path

from tazpod.cli.context import load_context, passphrase_source
from tazpod.cli.options import passphrase_options
from tazpod.cli.ui import UI
from tazpod.errors import UsageError, VaultError
from tazpod.sysio.creds import acting_as
from tazpod.vault.prompts import PassphraseSource, new_passphrase, with_passphrase
from tazpod.vault.ram import RamVault

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tazpod.sysio.cryptsetup import Kdf


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    parser.add_argument(
        "--new-passphrase-file", metavar="FILE", help="read the new passphrase from FILE"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    context = load_context(ui)
    old_source = passphrase_source(args).resolved()
    new_source = PassphraseSource(file=args.new_passphrase_file).resolved()
    if not old_source.interactive and new_source.interactive:
        raise UsageError(
            "--passphrase-file/--passphrase-fd need --new-passphrase-file",
            hint="non-interactive changes read both passphrases from files",
        )
    sudo_uid = os.environ.get("SUDO_UID") if os.geteuid() == 0 else None
    entry = pwd.getpwuid(int(sudo_uid)) if sudo_uid else None
    ids = (
        (entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)))
        if (entry)
        else (0, 0, ())
    )

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} left)")

    sources = (old_source, new_source, on_retry)

    if context.config.vault.backend == "luks":
        from tazpod.sysio.cryptsetup import Kdf

        settings = context.config.vault
        kdf = Kdf(settings.kdf_time_ms, settings.kdf_memory_mib)
        return _luks(context.project.vault_dir, ids, kdf, ui, sources)
    vault = RamVault(context.project.vault_dir)
    with acting_as(*ids):
        if not vault.exists():
            raise VaultError(f"no vault in {vault.directory}", hint="`tazpod unlock` creates one")
        identity = with_passphrase(old_source, vault.unwrap, on_retry)
        vault.rewrap(identity, new_passphrase(new_source, what="vault (new passphrase)"))
    ui.info("passphrase changed (identity.age re-wrapped; vault.age unchanged)")
    return 0


def _luks(
    vault_dir: Path,
    ids: tuple[int, int, tuple[int, ...]],
    kdf: Kdf,
    ui: UI,
    sources: tuple[PassphraseSource, PassphraseSource, Callable[[int], None]],
) -> int:
    from tazpod.vault.luks import LuksVault

    old_source, new_source, on_retry = sources
    vault = LuksVault(vault_dir, ids, kdf=kdf)
    if not vault.exists():
        raise VaultError(f"no vault in {vault_dir}", hint="`tazpod unlock` creates one")

    def proven(passphrase: str) -> tuple[str, int]:
        return passphrase, vault.verify(passphrase)

    old, slot = with_passphrase(old_source, proven, on_retry)
    new = new_passphrase(new_source, what="vault (new passphrase)")
    vault.change_passphrase(old, new, ui.info, old_slot=slot)
    ui.info("passphrase changed (new LUKS keyslot verified, old keyslot removed)")
    return 0
