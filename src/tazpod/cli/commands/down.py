"""`tazpod down`: remove the container; the workspace and the vault stay on disk."""

from __future__ import annotations

import argparse

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import engine_for, refuse_open_enclave, require_host
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purge", action="store_true", help="kubernetes: also delete the workspace volume"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="remove the container even while an enclave in it holds the vault open",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import check_owned

    require_host()
    context = load_context(ui)
    engine = engine_for(context)
    info = engine.find(context.config.container_name)
    if info is None:
        if args.purge and context.config.engine == "kubernetes":
            engine.remove(context.config.container_name, purge=True)
            kept = getattr(engine, "purge_note", None)
            gone = (
                f"its workspace claim was deleted; {kept}"
                if kept
                else "its workspace volume was deleted"
            )
            ui.say(f"{context.config.container_name}: no pod; {gone}")
            return 0
        ui.say(f"{context.config.container_name}: no such container (nothing to do)")
        return 0
    check_owned(info, context.project)
    if args.purge and context.config.engine != "kubernetes":
        raise UsageError(
            "--purge is for engine: kubernetes (its workspace volume)",
            hint="with Docker and Podman the workspace is this directory; nothing to purge",
        )
    refuse_open_enclave(context, engine, info, args.force, "tazpod down")
    engine.remove(info.name, purge=args.purge)
    kept = getattr(engine, "purge_note", None)
    if args.purge and kept:
        ui.say(f"{info.name}: removed, with its workspace claim; {kept}")
    elif args.purge:
        ui.say(f"{info.name}: removed, with its workspace volume (and the vault in it)")
    else:
        ui.say(f"{info.name}: removed (workspace and vault kept)")
    return 0
