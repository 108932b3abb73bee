"""devcontainer.json's `mounts`: Docker `--mount` strings and the spec's objects.

Strings are read as the devcontainers CLI reads them (comma-separated `key=value`, with
`src` for `source` and `dst`/`destination` for `target`), plus Docker's `readonly`/`ro`;
`consistency` is macOS's and means nothing here. Bind mounts of the project become paths
relative to it (config.yaml stays the project's, wherever it is checked out); volume
mounts keep their volume's name. What tazpod.project.mount_rules refuses is refused.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from tazpod.project import mount_rules
from tazpod.project.devcontainer_json.variables import Variables

_KEYS = {"src": "source", "dst": "target", "destination": "target"}
_IGNORED = ("consistency",)
_READ_ONLY = ("readonly", "ro")


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, has_value, value = part.strip().partition("=")
        key = _KEYS.get(key, key)
        if key in _READ_ONLY and not has_value:
            value = "true"
        fields[key] = value
    return fields


def _read_only(fields: dict[str, str]) -> bool:
    flags = [fields.pop(key) for key in _READ_ONLY if key in fields]
    for flag in flags:
        if flag.lower() not in ("true", "1", "false", "0"):
            raise ValueError(f"readonly={flag} is neither true nor false")
    return any(flag.lower() in ("true", "1") for flag in flags)


def entry(
    value: Any, variables: Variables, root: Path, places: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """One mount as config.yaml's `mounts:` keeps it; ValueError with the reason."""
    if isinstance(value, str):
        fields = _fields(variables.resolve(value))
    elif isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        fields = {key: variables.resolve(item) for key, item in value.items()}
    else:
        raise ValueError("a mount is a string (source=...,target=...,type=...) or an object")
    read_only = _read_only(fields)
    for key in _IGNORED:
        fields.pop(key, None)
    kind = fields.pop("type", "volume")  # (Docker's default for --mount)
    source, target = fields.pop("source", ""), fields.pop("target", "")
    if fields:
        raise ValueError(
            f"{', '.join(sorted(fields))}: not in tazpod's mounts (type, source, target, readonly)"
        )
    if kind not in ("bind", "volume"):
        raise ValueError(f"type={kind}: tazpod mounts a host path (bind) or a volume, no {kind}")
    if not target:
        raise ValueError("the mount has no target")
    if kind == "volume":
        if not source:
            raise ValueError("an anonymous volume is gone with its container: name it (source=)")
        mount_rules.volume_name(source)
    else:
        source = _bind_source(source, root)
    target = mount_rules.check_target(target, places)
    return {"type": kind, "source": source, "target": target, "read_only": read_only}


def _bind_source(source: str, root: Path) -> str:
    if not source.startswith("/"):
        raise ValueError(
            f"source={source}: a bind mount's source is an absolute path (e.g."
            " ${localWorkspaceFolder}/cache for one in the project)"
        )
    path = Path(posixpath.normpath(mount_rules.check_source(source)))
    if path == root or root in path.parents:
        return str(path.relative_to(root)) if path != root else "."
    return str(path)
