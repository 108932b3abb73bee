"""devcontainer.json's `features`: which of them tazpod can add to the image.

A Feature published to a registry (`ghcr.io/devcontainers/features/node:1`) or as a
tarball (`https://.../feature.tgz`) would have to be downloaded: tazpod downloads
nothing into an image it did not verify, so it says so and goes on without it. A local
Feature (`./my-feature`, a folder beside devcontainer.json holding
devcontainer-feature.json and install.sh, as the spec's "locally referenced Features")
is installed at build, by tazpod.images.features.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tazpod.project.devcontainer_json import jsonc
from tazpod.project.yamldoc import read_regular

_OPTION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def registry_of(feature_id: str) -> str:
    return feature_id.split("/", 1)[0] if "/" in feature_id else "a registry"


def _options(value: Any, feature_id: str) -> dict[str, str]:
    if isinstance(value, bool):  # (the legacy `"feature": true`)
        return {}
    if isinstance(value, str):
        return {"version": value}  # the spec's shorthand
    if not isinstance(value, dict):
        raise ValueError(f"{feature_id}: its options are an object (option: value)")
    out = {}
    for name, option in value.items():
        if not _OPTION_RE.match(name) or not isinstance(option, str | bool | int | float):
            raise ValueError(f"{feature_id}: {name!r} is not an option (a name and a value)")
        out[name] = str(option).lower() if isinstance(option, bool) else str(option)
    return out


def local(feature_id: str, value: Any, folder: Path, root: Path) -> dict[str, Any]:
    """A local Feature as config.yaml's `devcontainer_features:` keeps it; ValueError."""
    path = (folder / feature_id).resolve()
    devcontainer_dir = (root / ".devcontainer").resolve()
    if devcontainer_dir not in path.parents:
        raise ValueError(
            f"{feature_id}: a local Feature is a folder inside .devcontainer/ (the spec's"
            " rule); it is not"
        )
    for name in ("devcontainer-feature.json", "install.sh"):
        if not (path / name).is_file() or (path / name).is_symlink():
            raise ValueError(f"{feature_id}: {path / name} is missing (or is not a file)")
    metadata = jsonc.parse(read_regular(path / "devcontainer-feature.json").decode(), path)
    if not isinstance(metadata, dict):
        raise ValueError(f"{feature_id}: devcontainer-feature.json is not an object")
    known = metadata.get("options") or {}
    options = _options(value, feature_id)
    for name in options:
        if isinstance(known, dict) and known and name not in known:
            raise ValueError(
                f"{feature_id}: it has no option {name!r} (it has: {', '.join(known)})"
            )
    return {"path": str(path.relative_to(root.resolve())), "options": options}
