"""`tazpod down`: remove the container; the workspace and the vault stay on disk."""

from __future__ import annotations

import argparse

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import engine_for, require_host
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purge", action="store_true", help="kubernetes: also delete the workspace volume"
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
            ui.say(f"{context.config.container_name}: no pod; its workspace volume was deleted")
            return 0
        ui.say(f"{context.config.container_name}: no such container (nothing to do)")
        return 0
    check_owned(info, context.project)
    if args.purge and context.config.engine != "kubernetes":
        raise UsageError(
            "--purge is for engine: kubernetes (its workspace volume)",
            hint="with Docker and Podman the workspace is this directory; nothing to purge",
        )
    engine.remove(info.name, purge=args.purge)
    if args.purge:
        ui.say(f"{info.name}: removed, with its workspace volume (and the vault in it)")
    else:
        ui.say(f"{info.name}: removed (workspace and vault kept)")
    return 0
