"""`tazpod vault passwd`: change the passphrase.

ram: re-wraps identity.age only. luks: adds a keyslot for the new passphrase,
verifies it, then removes the old one (never a moment without a valid key).
"""

from __future__ import annotations

import argparse

from tazpod.cli.context import load_context, passphrase_source
from tazpod.cli.options import passphrase_options
from tazpod.cli.ui import UI
from tazpod.enclave.user import resolve_user
from tazpod.errors import UsageError
from tazpod.sysio.environ import in_container
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
    # Whose vault it is, as opening it decides (the sudo caller, or the container's
    # user): a new identity.age is theirs, never root's.
    user = resolve_user(context.config.user, in_container())
    ids = (user.uid, user.gid, user.groups)

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} left)")

    vault = vault_for(context.config.vault, context.project.vault_dir, ids)
    change_passphrase(vault, old_source, new_source, ui.info, on_retry)
    return 0
