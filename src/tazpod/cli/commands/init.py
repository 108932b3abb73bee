"""`tazpod init [VERTICAL] [--force]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.project.locate import init_project


def configure(parser: argparse.ArgumentParser) -> None:
    from tazpod.project.config import VERTICALS

    parser.add_argument(
        "vertical",
        nargs="?",
        metavar="VERTICAL",
        help=f"one of {', '.join(VERTICALS)} (default: k8s)",
    )
    parser.add_argument("--force", action="store_true", help="rewrite an existing .tazpod/config")


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.project import trust
    from tazpod.project.config import read_project_config

    result = init_project(Path.cwd(), args.vertical, args.force)
    trust.approve(result.root, read_project_config(result.root / ".tazpod" / "config.yaml").config)
    ui.say(f"initialized tazpod project ({result.vertical}) in {result.root}")
    for label in result.created:
        ui.say(f"  created   {label}")
    for label in result.replaced:
        ui.say(f"  rewrote   {label}")
    for label in result.kept:
        ui.say(f"  kept      {label} (already present)")
    ui.say(f"container name: {result.container_name}")
    ui.say("settings approved on this machine (after editing config.yaml: `tazpod trust`)")
    ui.say(
        "next: edit secrets.yml, then `tazpod up` and `tazpod unlock` for the dev container,"
        " or `sudo tazpod unlock` to open the vault on this host"
    )
    return 0
