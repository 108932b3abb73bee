"""Local Dev Container Features, installed into the project's image.

As the Features spec runs them: each Feature's folder is copied into the build, its
options (the user's, else the defaults in its devcontainer-feature.json) are written to
`devcontainer-features.env` as upper-cased variables (non-word characters -> `_`), and
its install.sh runs as root with them and with `_REMOTE_USER`, `_CONTAINER_USER` and
their homes. The image is built FROM the project's image (pulled or built), tagged by a
digest of everything that goes into it, so a change of a Feature or of its options
builds it anew and an unchanged one is reused. The folders are the workspace's: only
their approved files are copied, each checked as it is copied (tazpod.project.build_files).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

from tazpod.engines.base import Engine, Progress
from tazpod.errors import ConfigError
from tazpod.project import build_files
from tazpod.project.locate import Project
from tazpod.project.schema import LocalFeature, ProjectConfig

INSTALL_DIR = "/tmp/tazpod-features"  # noqa: S108 (in the image's build, removed after)


def option_variable(name: str) -> str:
    """The spec's option name -> variable: non-word -> `_`, leading digits and `_` -> `_`."""
    return re.sub(r"^[\d_]+", "_", re.sub(r"[^\w]", "_", name)).upper()


def featured_tag(config: ProjectConfig, approved: dict[str, str]) -> str:
    """The image with the Features: named by a digest of what goes into it."""
    keys = sorted(key for key in approved if key.startswith(build_files.FEATURE))
    what = [
        config.image,
        config.user,
        [[feature.path, list(feature.options)] for feature in config.devcontainer_features],
        [[key, approved[key]] for key in keys],
    ]
    digest = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:12]
    return f"{config.container_name}:features-{digest}".lower()


def with_features(
    engine: Engine,
    project: Project,
    config: ProjectConfig,
    progress: Progress,
    rebuild: bool = False,
) -> str:
    """The image the container runs: ``config.image`` with the local Features installed
    (built when missing, or with ``rebuild``); ``config.image`` itself without Features."""
    if not config.devcontainer_features:
        return config.image
    if engine.name == "kubernetes":
        progress(
            "devcontainer_features: a cluster pulls its images; build the image with the"
            " Features elsewhere and push it (skipped)"
        )
        return config.image
    from tazpod.images.stack import approved_build_files

    approved = approved_build_files(project, config)
    tag = featured_tag(config, approved)
    if not rebuild and engine.image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="tazpod-features-") as tmp:
        context = Path(tmp)
        steps = [f"FROM {config.image}", "USER root"]
        for index, feature in enumerate(config.devcontainer_features):
            folder = context / str(index)
            build_files.copy_feature(project, feature.path, approved, folder)
            (folder / "devcontainer-features.env").write_text(_env_file(feature, folder))
            steps += _install_steps(index, config.user)
        (context / "Dockerfile").write_text("\n".join(steps) + "\n")
        count = len(config.devcontainer_features)
        progress(f"building {tag}: {config.image} with {count} local Feature(s)")
        engine.build(context, context / "Dockerfile", tag, {}, progress)
    return tag


def _env_file(feature: LocalFeature, folder: Path) -> str:
    """`NAME='value'` lines: the defaults of devcontainer-feature.json, then the user's."""
    from tazpod.project.devcontainer_json import jsonc

    metadata = jsonc.parse((folder / "devcontainer-feature.json").read_text(), folder)
    declared = metadata.get("options") if isinstance(metadata, dict) else None
    values: dict[str, str] = {}
    for name, option in (declared or {}).items():
        default: Any = option.get("default") if isinstance(option, dict) else None
        if default is not None:
            values[name] = str(default).lower() if isinstance(default, bool) else str(default)
    values.update(dict(feature.options))
    for name in values:
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise ConfigError(f"{feature.path}: {name!r} is not a Feature option's name")
    return "".join(
        f"{option_variable(name)}={shlex.quote(value)}\n" for name, value in values.items()
    )


def _install_steps(index: int, user: str) -> list[str]:
    where = f"{INSTALL_DIR}/{index}"
    users = (
        f"_REMOTE_USER={user} _REMOTE_USER_HOME=/home/{user}"
        " _CONTAINER_USER=root _CONTAINER_USER_HOME=/root"
    )
    return [
        f"COPY {index}/ {where}/",
        f"RUN cd {where} && chmod +x install.sh && set -a && . ./devcontainer-features.env"
        f" && set +a && {users} ./install.sh && rm -rf {where}",
    ]
