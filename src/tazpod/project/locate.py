"""A tazpod project on disk: finding it, and `tazpod init`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.errors import ConfigError, UsageError
from tazpod.project.config import (
    CONFIG_DIR,
    CONFIG_FILE,
    DEFAULT_VERTICAL,
    SECRETS_FILE,
    VERTICALS,
    ProjectConfig,
)
from tazpod.project.names import new_container_name
from tazpod.project.templates import GITIGNORE_TEMPLATE, SECRETS_TEMPLATE, render_config
from tazpod.sysio.files import write_atomic


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / CONFIG_DIR

    @property
    def config_path(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def secrets_path(self) -> Path:
        return self.root / SECRETS_FILE

    @property
    def vault_dir(self) -> Path:
        return self.config_dir / "vault"


def find_project(start: Path) -> Project | None:
    """The nearest directory at or above ``start`` holding .tazpod/config.yaml (the same
    walk as the quick `exec` path's, which must find the same root without pathlib)."""
    from tazpod.project.exec_ticket import find_root

    root = find_root(str(start))
    return None if root is None else Project(Path(root))


def require_project(start: Path) -> Project:
    project = find_project(start)
    if project is None:
        from tazpod.project.devcontainer_json.source import CANDIDATES

        if any((start / candidate).is_file() for candidate in CANDIDATES):
            raise ConfigError(
                f"no tazpod project in {start} or any parent directory; it has a devcontainer.json",
                hint="import it: `tazpod init --from-devcontainer` (then review the settings"
                " and `tazpod trust`), or `tazpod up` on a terminal, which offers to",
            )
        raise ConfigError(
            f"no tazpod project in {start} or any parent directory",
            hint="run `tazpod init` in the project's directory",
        )
    return project


@dataclass
class InitResult:
    root: Path
    vertical: str
    container_name: str
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _existing_name(config_path: Path) -> str | None:
    """Keep the container name across `init --force`, so the container stays findable."""
    from tazpod.project.read import read_project_config

    with contextlib.suppress(ConfigError):
        config: ProjectConfig = read_project_config(config_path).config
        return config.container_name
    return None


def init_project(
    directory: Path,
    vertical: str | None,
    force: bool,
    *,
    name: str | None = None,
    config_text: str | None = None,
) -> InitResult:
    """The project's files; ``name`` and ``config_text`` (its config.yaml) when the caller
    chose them already (an import of a devcontainer.json)."""
    vertical = vertical or DEFAULT_VERTICAL
    if vertical not in VERTICALS:
        raise UsageError(
            f"unknown vertical {vertical!r}",
            hint="choose one of: " + ", ".join(f"{v} ({d})" for v, d in VERTICALS.items()),
        )
    directory = directory.absolute()
    project = Project(directory)
    if project.config_dir.exists() and not force:
        raise UsageError(
            f"{project.config_dir} already exists",
            hint="use `tazpod init --force` to rewrite config.yaml (the vault and secrets.yml"
            " are kept)",
        )
    name = (
        name
        or (_existing_name(project.config_path) if force else None)
        or new_container_name(directory.name)
    )
    result = InitResult(directory, vertical, name)
    project.config_dir.mkdir(mode=0o755, exist_ok=True)
    project.vault_dir.mkdir(mode=0o700, exist_ok=True)

    def place(path: Path, text: str, overwrite: bool) -> None:
        label = str(path.relative_to(directory))
        if path.exists() and not overwrite:
            result.kept.append(label)
            return
        (result.replaced if path.exists() else result.created).append(label)
        write_atomic(path, text.encode(), mode=0o644)

    place(project.config_path, config_text or render_config(vertical, name), overwrite=True)
    place(project.config_dir / ".gitignore", GITIGNORE_TEMPLATE, overwrite=True)
    gemini = directory / ".gemini"
    if not gemini.exists():
        gemini.mkdir(mode=0o700)
        # Self-ignoring: local AI memory never reaches git, without touching the user's files.
        write_atomic(gemini / ".gitignore", b"*\n", mode=0o644)
        result.created.append(".gemini/")
    place(project.secrets_path, SECRETS_TEMPLATE, overwrite=False)
    return result
