"""Approving a project's settings in tests, as `tazpod trust --yes` does."""

from __future__ import annotations

from pathlib import Path

from tazpod.project import build_files, trust
from tazpod.project.config import read_project_config
from tazpod.project.locate import Project
from tazpod.secrets.mappings import read_secrets_config


def approve(root: Path) -> None:
    """What the user does on the host after editing config.yaml or secrets.yml."""
    project = Project(root)
    config = read_project_config(project.config_path).config
    secrets = None
    if project.secrets_path.is_file():
        secrets = read_secrets_config(project.secrets_path)[0]
    files = None
    if build_files.needed(config):
        files = build_files.project_manifest(project, config)
    trust.approve(root, config, secrets, files)
