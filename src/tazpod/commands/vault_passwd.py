"""`tazpod vault passwd`: change the passphrase (re-wraps identity.age only)."""

from __future__ import annotations

import argparse
import os
import pwd

from tazpod.commands._context import load_context, passphrase_source
from tazpod.errors import UsageError, VaultError
from tazpod.passphrase import PassphraseSource, new_passphrase, with_passphrase
from tazpod.sysio.creds import acting_as
from tazpod.ui import UI
from tazpod.vault.ram import RamVault


def run(args: argparse.Namespace, ui: UI) -> int:
    context = load_context(ui)
    if context.config.vault.backend != "ram":
        raise VaultError(f"vault passwd is not available for {context.config.vault.backend!r}")
    old_source = passphrase_source(args).resolved()
    new_source = PassphraseSource(file=args.new_passphrase_file).resolved()
    if not old_source.interactive and new_source.interactive:
        raise UsageError(
            "--passphrase-file/--passphrase-fd need --new-passphrase-file",
            hint="non-interactive changes read both passphrases from files",
        )
    vault = RamVault(context.project.vault_dir)
    sudo_uid = os.environ.get("SUDO_UID") if os.geteuid() == 0 else None
    entry = pwd.getpwuid(int(sudo_uid)) if sudo_uid else None
    ids = (
        (entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)))
        if (entry)
        else (0, 0, ())
    )

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} left)")

    with acting_as(*ids):
        if not vault.exists():
            raise VaultError(f"no vault in {vault.directory}", hint="`tazpod unlock` creates one")
        identity = with_passphrase(old_source, vault.unwrap, on_retry)
        vault.rewrap(identity, new_passphrase(new_source, what="vault (new passphrase)"))
    ui.info("passphrase changed (identity.age re-wrapped; vault.age unchanged)")
    return 0
