"""What most commands start from: the project, its config and secrets.yml."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.errors import ConfigError
from tazpod.project.config import ProjectConfig, load_project_config
from tazpod.project.locate import Project, require_project
from tazpod.secrets.mappings import SecretsConfig, read_secrets_config
from tazpod.sysio import environ
from tazpod.vault.prompts import PassphraseSource


@dataclass(frozen=True)
class Context:
    project: Project
    config: ProjectConfig
    secrets: SecretsConfig | None


def project_start() -> Path:
    """Inside an enclave the project is the one it was opened for, wherever the shell is."""
    project = environ.enclave_project()
    return Path(project) if project else Path.cwd()


def load_context(ui: UI, with_secrets: bool = True) -> Context:
    """The project, its config and (unless a command has no use for it) secrets.yml."""
    project = require_project(project_start())
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    secrets = None
    if with_secrets and project.secrets_path.is_file():
        secrets, warnings = read_secrets_config(project.secrets_path)
        for warning in warnings:
            ui.warn(warning)
    return Context(project, loaded.config, secrets)


def passphrase_source(args: argparse.Namespace) -> PassphraseSource:
    return PassphraseSource(file=args.passphrase_file, fd=args.passphrase_fd)


def require_secrets(context: Context) -> SecretsConfig:
    if context.secrets is None:
        raise ConfigError(
            f"no {context.project.secrets_path}",
            hint="`tazpod init` writes a template; fill in config.infisical_project_id",
        )
    return context.secrets


def inside_enclave() -> bool:
    return environ.in_enclave()


def rerun_in_enclave(args: argparse.Namespace, ui: UI, tazpod_argv: list[str]) -> int:
    """Open (or join) the enclave and run this same tazpod command inside it, as its user."""
    from tazpod.cli.commands.unlock import enter_enclave

    command = [sys.executable, "-m", "tazpod", *tazpod_argv]
    return enter_enclave(args, ui, command=command, forward_inner=tazpod_argv)
