"""devcontainer.json projects at the command line: the import's summary, `up`'s offer to
import in a project that has only a devcontainer.json, and its warning when the file
changed since it was imported."""

from __future__ import annotations

import sys
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.errors import ConfigError, UsageError
from tazpod.project.devcontainer_json import importer
from tazpod.project.devcontainer_json import source as sources
from tazpod.project.locate import Project
from tazpod.project.schema import ProjectConfig

INIT_HINT = sources.INIT_HINT


def show(ui: UI, chosen: importer.Plan) -> None:
    """The warnings, then what the import sets (variables by name only)."""
    for warning in chosen.imported.warnings:
        ui.warn(warning)
    ui.say(f"from {chosen.imported.source.relative}:")
    for note in chosen.imported.notes:
        ui.say(f"  {note}")


def offer_import(ui: UI, start: Path) -> Project | None:
    """`up` where there is no project but a devcontainer.json: ask, import and approve.

    None when there is no devcontainer.json either; without a terminal, or when the user
    says no, an error that says how to import it.
    """
    path = sources.find(start)
    if path is None:
        return None
    relative = path.relative_to(start)
    if not sys.stdin.isatty():
        raise ConfigError(
            f"no tazpod project in {start}; it has {relative}",
            hint=f"import it: `{INIT_HINT}`, review the settings, then `tazpod trust`",
        )
    chosen = importer.plan(start, path)
    ui.info(f"no tazpod project here; {relative} describes a dev container")
    show(ui, chosen)
    answer = input(f"import {relative} into .tazpod/config.yaml and approve these settings? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("not imported; nothing changed", hint=f"later: `{INIT_HINT}`")
    made = importer.write(chosen).made
    # (a secrets.yml that was there already is for the user to review, as with `init`)
    approve_import(chosen.project, made is not None and "secrets.yml" in made.created)
    ui.info(
        "imported and approved; `tazpod init --from-devcontainer` imports it again after it changes"
    )
    return chosen.project


def approve_import(project: Project, wrote_secrets: bool) -> None:
    """Approve the imported settings (and a custom image's Dockerfile and context)."""
    from tazpod.project import build_files, trust
    from tazpod.project.read import read_project_config
    from tazpod.secrets.mappings import read_secrets_config

    config: ProjectConfig = read_project_config(project.config_path).config
    secrets = read_secrets_config(project.secrets_path)[0] if wrote_secrets else None
    files = build_files.project_manifest(project, config) if build_files.needed(config) else None
    trust.approve(project.root, config, secrets, files)


def warn_if_changed(ui: UI, project: Project, config: ProjectConfig) -> None:
    """The imported devcontainer.json is not what it was: its changes are not applied."""
    if config.devcontainer is None:
        return
    why = sources.changed(project.root, config.devcontainer.source, config.devcontainer.sha256)
    if why is not None:
        ui.warn(
            f"{why}; its changes are not applied until it is imported again"
            f" (`{INIT_HINT}`, then `tazpod trust`)"
        )
