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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tazpod.project.build_files import Manifest
    from tazpod.project.config import ProjectConfig
    from tazpod.project.locate import Project


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
    approved_files = None
    if build_files.needed(loaded.config):
        files = build_files.project_manifest(project, loaded.config)
        approved_files = trust.load_approved_build(project.root)
        file_changes = build_files.changes(approved_files, files)
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
    if file_changes and files is not None and not args.yes:
        _show_files(ui, project, loaded.config, approved_files, files)
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


_SHOWN_BYTES = 16384  # a file up to this size is shown whole
_SHOWN_LINES = 400  # at most this many lines of them all


def _show_files(
    ui: UI, project: Project, config: ProjectConfig, approved: Manifest | None, files: Manifest
) -> None:
    """The changed build files as they are about to be approved: copied now into a directory
    of yours (checked against the digests approved below), and the small text ones shown.
    The workspace's own copy is not what to review: a session in the container can swap it
    between your look and your answer (the attack review did)."""
    from tazpod.project import build_files, trust

    before = approved or {}
    keys = [key for key in sorted(files) if before.get(key) != files[key]]
    import hashlib

    named = hashlib.sha256(str(project.root).encode()).hexdigest()[:16]
    review = trust.state_dir() / "review" / named
    copies = build_files.review_copies(project, config, files, keys, review)
    budget = _SHOWN_LINES
    for key, copy in copies.items():
        data = copy.read_bytes()
        text = data.decode("utf-8", errors="strict") if len(data) <= _SHOWN_BYTES else None
        if text is None or "\0" in text or budget <= 0:
            ui.info(f"{key}: {len(data)} bytes, not shown: review {copy}")
            continue
        lines = text.splitlines()
        ui.info(f"----- {key} (as it will be approved) -----")
        for line in lines[:budget]:
            ui.info(f"| {line}")
        if len(lines) > budget:
            ui.info(f"... the rest: {copy}")
        budget -= len(lines)
    for key in keys:
        if files[key].startswith("symlink:"):
            ui.info(f"{key}: a link to {files[key].removeprefix('symlink:')}")
    ui.info(f"these copies, read just now, are what you approve: {review}")


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
