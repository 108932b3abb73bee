"""What most commands start from: the project, its config and secrets.yml."""

from __future__ import annotations

import argparse
import os
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


# Root in the container: the digest of the settings approved on the host, which came with
# this command (`--approved-settings`, set by the host's forwarding).
approved_digest: str | None = None


def load_context(ui: UI, with_secrets: bool = True) -> Context:
    """The project, its config (as approved) and, unless not needed, secrets.yml."""
    project = require_project(project_start())
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    require_approved(project, loaded.config)
    secrets = None
    if with_secrets and project.secrets_path.is_file():
        secrets, warnings = read_secrets_config(project.secrets_path)
        for warning in warnings:
            ui.warn(warning)
    return Context(project, loaded.config, secrets)


def require_approved(project: Project, config: ProjectConfig) -> None:
    """Act only on settings the user approved on the host (see tazpod.project.trust).

    The container's own user needs no approval: what it runs, it runs as itself; nor does
    a command inside an enclave, whose opener (root) checked the settings it acts on.
    """
    from tazpod.project import trust

    if environ.in_container():
        if os.geteuid() == 0:  # whatever its environment says: root acts on settings
            trust.check_digest(project.root, config, approved_digest)
        return
    if not inside_enclave():
        trust.check(project.root, config)


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
