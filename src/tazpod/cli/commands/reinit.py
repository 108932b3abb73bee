"""`tazpod reinit`: destroy the vault and everything in it, after an explicit confirmation."""

from __future__ import annotations

import argparse
import sys

from tazpod.cli.context import load_context
from tazpod.cli.ui import UI
from tazpod.errors import UsageError, VaultBusyError
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import is_locked

CONFIRMATION = "destroy"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask (for scripts)")


def run(args: argparse.Namespace, ui: UI) -> int:
    context = load_context(ui)
    vault = vault_for(context.config.vault, context.project.vault_dir)
    if is_locked(vault.directory, strict=True):
        raise VaultBusyError(
            "the vault is open in an enclave", hint="close it first with `tazpod lock`"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "reinit destroys the vault and needs confirmation",
                hint="run it in a terminal, or pass --yes in scripts",
            )
        ui.error(f"this destroys every secret in {vault.directory}; there is no undo")
        answer = input(f"type {CONFIRMATION!r} to continue: ")
        if answer.strip() != CONFIRMATION:
            ui.info("nothing was changed")
            return 1
    removed = vault.destroy()
    for path in removed:
        ui.info(f"removed {path}")
    ui.info("vault destroyed; the next `tazpod unlock` creates a new one")
    return 0
