"""`tazpod vault migrate --to ram|luks`: move the vault to the other backend, losing nothing."""

from __future__ import annotations

import argparse

from tazpod.cli.context import Context, load_context, passphrase_source
from tazpod.cli.options import passphrase_options, size_mib
from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    from tazpod.project.config import BACKENDS

    parser.add_argument("--to", required=True, choices=BACKENDS, help="the new backend")
    parser.add_argument(
        "--size",
        type=size_mib,
        metavar="SIZE",
        help="the new vault's size (default: its backend's)",
    )
    passphrase_options(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    context = load_context(ui)
    from tazpod.cli.forwarding import forward, running_container

    target = running_container(context)
    if target is not None:
        inner = ["vault", "migrate", "--to", args.to]
        if args.size is not None:
            inner += ["--size", f"{args.size}M"]
        code = forward(args, ui, target, inner, context)
        if code == 0:
            _approve_new_backend(context, ui)
        return code
    from tazpod.enclave.migrate import migrate

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} attempt{'s' if remaining != 1 else ''} left)")

    migrate(
        context.project,
        context.config,
        args.to,
        args.size,
        passphrase_source(args),
        ui.info,
        on_retry,
    )
    _approve_new_backend(context, ui)
    ui.info(f"the vault now uses the {args.to} backend")
    return 0


def _approve_new_backend(context: Context, ui: UI) -> None:
    """The migration recorded vault.backend and vault.size: approve exactly that change."""
    from tazpod.project import trust
    from tazpod.project.config import load_project_config
    from tazpod.project.paths import in_container

    if in_container():
        return  # the host approves after its forwarded migration
    root = context.project.root
    config = load_project_config(context.project.config_path).config
    current = trust.settings_of(config, context.secrets)
    changed = {key for key, _old, _new in trust.changes(trust.load_approved(root), current)}
    if changed <= {"vault.backend", "vault.size_mib"}:
        trust.approve(root, config, context.secrets, trust.load_approved_build(root))
    else:
        ui.warn(f"not approved (other settings changed too): {', '.join(sorted(changed))}")
