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

from tazpod.cli.context import Context
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", action="store_true", help="approve without asking (scripts and CI)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.cli.context import read_secrets
    from tazpod.cli.forwarding import require_host
    from tazpod.project import build_files, trust
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
    files: dict[str, str] | None = None
    file_changes: list[str] = []
    if build_files.needed(loaded.config):
        files = build_files.project_manifest(project, loaded.config)
        file_changes = build_files.changes(trust.load_approved_build(project.root), files)
    if approved == current and not file_changes:
        ui.info("this project's settings are approved already")
        return 0
    if approved != current:
        ui.info(trust.describe(project.root, approved, current))
    if file_changes:
        ui.info(
            "the custom image's Dockerfile, build context and local Features (built as"
            " root from the workspace): review these files\n"
            + "\n".join(f"  {row}" for row in file_changes)
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "not approved: there is no terminal to ask on",
                hint="review the settings above, then run `tazpod trust --yes`",
            )
        answer = input("approve these settings? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise UsageError("not approved; nothing changed")
    path = trust.approve(project.root, loaded.config, secrets, files)
    ui.info(f"approved; kept in {path}")
    _hand_to_container(Context(project, loaded.config, secrets), ui)
    return 0


def _hand_to_container(context: Context, ui: UI) -> None:
    """The running container's opener acts on the approval it started with: give it the
    new one (root's `tazpod container-approve` there), so that `tazpod unlock` typed in the
    container accepts the settings approved just now."""
    from tazpod.cli.forwarding import as_root, engine_for, running_container
    from tazpod.errors import TazpodError

    try:
        target = running_container(context)
        if target is None:
            return
        code, _out, _err = as_root(
            context, engine_for(context), target[1].name, ["container-approve"]
        )
    except TazpodError as err:
        ui.warn(f"the running container did not get the new approval: {err.message}")
        return
    if code == 0:
        ui.info(f"handed to the running container {target[1].name}")
    else:
        ui.warn(
            f"the running container {target[1].name} did not take the new approval (its"
            " tazpod is older?): `tazpod up --replace` starts one that has it"
        )
