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
    engine, config = engine_for(context), context.config
    if config.devcontainer is not None and config.vertical is None and config.build is None:
        engine.pull(config.image, ui.info)  # (a devcontainer.json's ready-made image)
        ui.say(f"pulled {config.image}")
    else:
        build_image(engine, context.project, config, ui.info, rebuild_all=args.all)
        ui.say(f"built {config.image}")
    if context.config.devcontainer_features:
        from tazpod.images.features import with_features

        tag = with_features(engine, context.project, context.config, ui.info, rebuild=True)
        ui.say(f"built {tag} (with the local Features)")
    return 0
