"""`tazpod trust [--yes]`: approve this project's settings on this machine (host only).

tazpod acts on `.tazpod/config.yaml` and `secrets.yml` only as approved here, so that a
change made inside the container, in a pod, or by a commit cannot choose what the host
builds and runs, what root does in the container, or which secrets land where.
This command shows what would be approved and asks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", action="store_true", help="approve without asking (scripts and CI)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.cli.context import read_secrets
    from tazpod.cli.forwarding import require_host
    from tazpod.project import trust
    from tazpod.project.config import load_project_config
    from tazpod.project.locate import require_project

    require_host()
    project = require_project(Path.cwd())
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    secrets = read_secrets(project, ui)
    approved = trust.load_approved(project.root)
    current = trust.settings_of(loaded.config, secrets)
    if approved == current:
        ui.info("this project's settings are approved already")
        return 0
    ui.info(trust.describe(project.root, approved, current))
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "not approved: there is no terminal to ask on",
                hint="review the settings above, then run `tazpod trust --yes`",
            )
        answer = input("approve these settings? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise UsageError("not approved; nothing changed")
    path = trust.approve(project.root, loaded.config, secrets)
    ui.info(f"approved; kept in {path}")
    return 0
