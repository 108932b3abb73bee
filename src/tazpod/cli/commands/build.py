"""`tazpod build`: (re)build the project's image, with progress."""

from __future__ import annotations

import argparse

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import engine_for, require_host
from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="also rebuild the verticals below this one"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.images.stack import build_image

    require_host()
    context = load_context(ui)
    build_image(engine_for(context), context.project, context.config, ui.info, rebuild_all=args.all)
    ui.say(f"built {context.config.image}")
    return 0
