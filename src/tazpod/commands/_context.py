"""What most commands start from: the project, its config and secrets.yml."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tazpod.config import ProjectConfig, read_project_config
from tazpod.passphrase import PassphraseSource
from tazpod.project import Project, require_project
from tazpod.secretsfile import SecretsConfig, read_secrets_config
from tazpod.ui import UI


@dataclass(frozen=True)
class Context:
    project: Project
    config: ProjectConfig
    secrets: SecretsConfig | None


def load_context(ui: UI) -> Context:
    project = require_project(Path.cwd())
    loaded = read_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    secrets = None
    if project.secrets_path.is_file():
        secrets, warnings = read_secrets_config(project.secrets_path)
        for warning in warnings:
            ui.warn(warning)
    return Context(project, loaded.config, secrets)


def passphrase_source(args: argparse.Namespace) -> PassphraseSource:
    return PassphraseSource(file=args.passphrase_file, fd=args.passphrase_fd)
