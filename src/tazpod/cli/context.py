"""What most commands start from: the project, its config and secrets.yml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tazpod.cli.ui import UI
from tazpod.errors import ConfigError
from tazpod.project.config import ProjectConfig, load_project_config
from tazpod.project.locate import Project, find_project, require_project
from tazpod.secrets.mappings import SecretsConfig, load_secrets_config
from tazpod.sysio import environ
from tazpod.vault.prompts import PassphraseSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse  # (annotations only: argparse is built only when arguments come)


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


def load_context(ui: UI, offer_import: bool = False) -> Context:
    """The project, its config and secrets.yml, as approved (both are in the approval).

    ``offer_import`` (`up`): where there is no project but a devcontainer.json, offer to
    import it (tazpod.cli.devcontainer), and warn when an imported one changed since.
    """
    start = project_start()
    project = find_project(start)
    if project is None and offer_import:
        from tazpod.cli.devcontainer import offer_import as offer

        project = offer(ui, start)
    project = project or require_project(start)
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    if offer_import and loaded.config.devcontainer is not None:
        from tazpod.cli.devcontainer import warn_if_changed

        warn_if_changed(ui, project, loaded.config)
    secrets = read_secrets(project, ui)
    require_approved(project, loaded.config, secrets)
    if inside_enclave() and os.geteuid() != 0:
        from tazpod.secrets import mapping_table

        # what `tazpod env` exports from now on: the approved mappings, never a newer file
        rows = secrets.mappings if secrets else ()
        delivery = secrets.delivery if secrets else ()
        vault = environ.enclave_vault() or ""
        problem = mapping_table.record(vault, str(project.secrets_path), rows, None, delivery)
        if problem:
            ui.warn(problem)
    return Context(project, loaded.config, secrets)


def unapproved_context(ui: UI) -> Context:
    """The project here, its config and secrets.yml as they are, approved or not: for the
    commands that report the approval (`status`, `doctor`) and act on nothing."""
    project = require_project(Path.cwd())
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    return Context(project, loaded.config, read_secrets(project, ui))


def read_secrets(project: Project, ui: UI) -> SecretsConfig | None:
    if not os.path.lexists(project.secrets_path):
        return None  # (a link, a fifo or a directory there is refused by the reader)
    secrets, warnings = load_secrets_config(project.secrets_path)
    for warning in warnings:
        ui.warn(warning)
    return secrets


def require_approved(
    project: Project, config: ProjectConfig, secrets: SecretsConfig | None
) -> None:
    """Act only on settings the user approved on the host (see tazpod.project.trust).

    On the host the approval store decides, inside an enclave too. In the container, root
    acts on the digest the host sent with the command, an enclave's processes on the digest
    its opener checked (they cannot be steered by a same-uid session outside it); the
    container's user outside an enclave needs no approval: what it runs, it runs as itself.
    """
    from tazpod.project import trust

    if environ.in_container() and os.geteuid() == 0:  # whatever its environment says
        trust.check_digest(project.root, config, secrets, approved_digest)
    elif inside_enclave():
        trust.check_in_enclave(project.root, config, secrets)
    elif not environ.in_container():
        trust.check(project.root, config, secrets)


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
