"""`tazpod vault passwd`: change the passphrase.

ram: re-wraps identity.age only. luks: adds a keyslot for the new passphrase,
verifies it, then removes the old one (never a moment without a valid key).
"""

from __future__ import annotations

import argparse
import os
import pwd
from pathlib import Path

from tazpod.cli.context import load_context, passphrase_source
from tazpod.cli.options import passphrase_options
from tazpod.cli.ui import UI
from tazpod.errors import UsageError
from tazpod.vault.factory import vault_for
from tazpod.vault.prompts import PassphraseSource
from tazpod.vault.unlocking import change_passphrase


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
    ids = _vault_owner(context.project.vault_dir)

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} left)")

    vault = vault_for(context.config.vault, context.project.vault_dir, ids)
    change_passphrase(vault, old_source, new_source, ui.info, on_retry)
    return 0


def _vault_owner(vault_dir: Path) -> tuple[int, int, tuple[int, ...]]:
    """Whose files the vault's are: the owner of its directory (as root, under sudo or in
    the container alike), so a new identity.age is never left root's."""
    if os.geteuid() != 0:
        return (os.getuid(), os.getgid(), ())
    try:
        st = os.stat(vault_dir)
    except FileNotFoundError:
        st = None
    uid = st.st_uid if st is not None else int(os.environ.get("SUDO_UID") or 0)
    if uid == 0:
        return (0, 0, ())
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:  # a uid without a passwd entry: its own group only
        return (uid, st.st_gid if st is not None else uid, ())
    return (entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)))
