"""`tazpod pull` (alias `sync`): Infisical's secrets into the vault, in one go.

Outside an enclave it opens (or joins) one, as TazPod's pull did, syncs
inside it, and saves. `--exec -- CMD` then runs CMD with the fresh variables.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tazpod.cli.context import (
    inside_enclave,
    load_context,
    require_secrets,
)
from tazpod.cli.entry import rerun_in_enclave
from tazpod.cli.options import command_operands, passphrase_options
from tazpod.cli.ui import UI


def _names(label: str, names: list[str]) -> str:
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    return f"{label} {len(names)}: {shown}"


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    parser.add_argument("--exec", action="store_true", help="then run the command after --")
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an answer with no secrets even if the vault holds some from Infisical",
    )
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    command = list(args.argv or [])
    if command and command[0] == "--":
        command = command[1:]
    if not inside_enclave():
        inner = ["pull", *(["--allow-empty"] if args.allow_empty else [])]
        inner += ["--exec", "--", *command] if args.exec else []
        return rerun_in_enclave(args, ui, inner)
    from tazpod.secrets import store as secretstore
    from tazpod.secrets.pull import pull

    context = load_context(ui)
    secrets = require_secrets(context)
    root = secretstore.vault_root()
    try:
        result = pull(
            root,
            secrets,
            context.project.secrets_path,
            Path.home(),
            allow_empty=args.allow_empty,
        )
    except secretstore.VaultFull as err:
        vault = context.config.vault
        raise err.explained(vault.backend, vault.size_mib) from err
    total = len(secretstore.read_values(root, secretstore.INFISICAL_ENV))
    ui.info(f"synced {total} secrets from {result.source} ({result.requests} HTTP requests)")
    for label, names in (
        ("added", result.added),
        ("changed", result.changed),
        ("removed", result.removed),
    ):
        if names:
            ui.info(_names(label, names))
    if result.hidden:
        ui.warn(_names("values hidden from this identity, not synced", result.hidden))
    if result.files:
        ui.info(f"wrote {', '.join(result.files)} in {root}")
    if args.exec:
        if not command:
            from tazpod.errors import UsageError

            raise UsageError("--exec needs a command after --")
        from tazpod.secrets.environment import environment_plan
        from tazpod.secrets.shell import as_environment, skipped_notice
        from tazpod.secrets.value_files import materialize
        from tazpod.sysio.environ import Inherit, child_env
        from tazpod.sysio.run import replace_process

        mappings = [(m.name, m.file, m.env) for m in secrets.mappings]
        plan = environment_plan(mappings, str(root), dict(secrets.delivery))
        for problem in materialize(str(root), plan.value_files, plan.sources):
            ui.warn(problem)
        # The enclave already named what it skipped when it started this command (`run
        # --sync`): say only what this pull added, so each name is said once.
        notice = skipped_notice(set(plan.skipped) & set(result.added))
        if notice:
            ui.warn(notice)
        # The user's command, in their enclave shell's whole environment plus the fresh
        # secrets: what `eval "$(tazpod env)"` would give that shell.
        replace_process(command, child_env(as_environment(plan), inherit=Inherit.EVERYTHING))
    ui.info(
        "the enclave's bash and zsh shells have them at their next prompt"
        ' (elsewhere: eval "$(tazpod env)")'
    )
    return 0
