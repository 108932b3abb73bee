"""`tazpod init --from-devcontainer [PATH]`: the import, planned and then written.

``plan`` translates the file (nothing written), so that a caller can show what it would
set and ask; ``write`` records it: a new project gets tazpod's files with a config.yaml
made from the file, an existing one has the keys an import owns replaced in place
(tazpod's own keys and the user's comments stay). Nothing is approved here: the file
comes with the repository, and its settings are the user's to review (`tazpod trust`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.project import validate
from tazpod.project.devcontainer_json import source as sources
from tazpod.project.devcontainer_json.state import Imported
from tazpod.project.devcontainer_json.translate import translate
from tazpod.project.locate import InitResult, Project, init_project
from tazpod.project.schema import ProjectConfig, VaultConfig
from tazpod.sysio.files import write_atomic

# Above the keys an import adds at the end of config.yaml (once).
HEADER = (
    "From the devcontainer.json (`tazpod init --from-devcontainer` imports it again; see\n"
    'README, "devcontainer.json projects"): the container\'s variables (environment),\n'
    "mounts, forward_ports, hooks (run in the container as the user), limits, local\n"
    "Features, and the file they came from (devcontainer: `tazpod up` warns when it changes)."
)


@dataclass(frozen=True)
class Plan:
    project: Project
    imported: Imported
    container_name: str
    new: bool  # no .tazpod/config.yaml yet


def _existing(project: Project) -> ProjectConfig | None:
    from tazpod.project.read import read_project_config

    if not project.config_path.exists():
        return None
    config: ProjectConfig = read_project_config(project.config_path).config
    return config


def plan(root: Path, given: Path | None = None) -> Plan:
    """What importing ``given`` (default: the project's devcontainer.json) would write."""
    project = Project(root)
    path = given or sources.find(root)
    if path is None:
        raise ConfigError(
            f"no devcontainer.json in {root} (.devcontainer/devcontainer.json,"
            " .devcontainer.json or .devcontainer/NAME/devcontainer.json)",
            hint="name it: `tazpod init --from-devcontainer PATH`",
        )
    source = sources.read(root, path)
    try:
        validate.relative_file(source.relative)
    except ValueError as err:
        raise ConfigError(f"{source.path}: its path is not a plain one: {err}") from err
    existing = _existing(project)
    if existing is not None:
        name, user, vault = existing.container_name, existing.user, existing.vault
    else:
        from tazpod.project.names import new_container_name

        name, user, vault = new_container_name(root.name), "tazpod", VaultConfig()
    imported = translate(source, root, name, user, vault)
    return Plan(project, imported, name, existing is None)


@dataclass(frozen=True)
class Written:
    made: InitResult | None  # the new project's files (None: config.yaml was there)
    dropped: list[str]  # keys an earlier import set that this file no longer gives


def write(chosen: Plan) -> Written:
    """Record the plan in config.yaml; the new project's files when there was none."""
    from tazpod.project.edit import update_keys

    result = None
    if chosen.new:
        from tazpod.project.templates import render_devcontainer_config

        text = render_devcontainer_config(chosen.container_name, chosen.imported.source.relative)
        result = init_project(
            chosen.project.root, "base", False, name=chosen.container_name, config_text=text
        )
    path = chosen.project.config_path
    before = path.read_bytes()
    try:
        dropped = update_keys(path, chosen.imported.settings, chosen.imported.removed, HEADER)
        from tazpod.project.read import read_project_config

        read_project_config(path)  # what was written reads back (else: a bug, said now)
    except BaseException:
        with contextlib.suppress(OSError):  # the file as it was (a new one: gone)
            if chosen.new:
                path.unlink()
            else:
                write_atomic(path, before, mode=path.stat().st_mode & 0o777)
        raise
    return Written(result, [key for key in dropped if key != "vertical"])
