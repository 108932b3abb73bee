"""What can be said about a project's vault from outside it, without a passphrase."""

from __future__ import annotations

from tazpod.project.config import ProjectConfig
from tazpod.project.locate import Project

VAULT_FILE = "vault.age"
IDENTITY_FILE = "identity.age"
PREVIOUS_SUFFIX = ".1"
LUKS_FILE = "vault.img"


def describe_vault(project: Project, config: ProjectConfig) -> list[str]:
    vault_dir = project.vault_dir
    lines: list[str] = []
    if config.vault.backend == "ram":
        sealed = vault_dir / VAULT_FILE
        if sealed.is_file():
            size = sealed.stat().st_size
            lines.append(f"vault file:  {sealed} ({size} bytes, encrypted)")
            previous = vault_dir / (VAULT_FILE + PREVIOUS_SUFFIX)
            if previous.is_file():
                lines.append("previous generation kept (vault.age.1)")
        else:
            lines.append("vault file:  none yet (created at the first `tazpod unlock`)")
    else:
        image = vault_dir / LUKS_FILE
        if image.is_file():
            size = image.stat().st_size
            lines.append(f"vault file:  {image} ({size // (1024 * 1024)} MiB LUKS image)")
        else:
            lines.append("vault file:  none yet (created at the first `tazpod unlock`)")
    return lines
