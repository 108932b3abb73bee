"""Where a project's devcontainer.json is, and its text and digest.

The spec's places, in its order: `.devcontainer/devcontainer.json`, `.devcontainer.json`,
and `.devcontainer/<folder>/devcontainer.json` (one of several configurations: then the
user names it). The file is the workspace's (every container session can write it): it
is read only as a regular file of its own, never through a link, at most 1 MiB.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.project.yamldoc import read_regular

CANDIDATES = (".devcontainer/devcontainer.json", ".devcontainer.json")
INIT_HINT = "tazpod init --from-devcontainer"


@dataclass(frozen=True)
class Source:
    path: Path  # absolute
    relative: str  # to the project root, as config.yaml records it
    text: str
    sha256: str

    @property
    def folder(self) -> Path:
        return self.path.parent


def find(root: Path) -> Path | None:
    """The project's devcontainer.json, or None; ConfigError when there are several."""
    for candidate in CANDIDATES:
        if (root / candidate).is_file():
            return root / candidate
    nested = sorted((root / ".devcontainer").glob("*/devcontainer.json"))
    if len(nested) > 1:
        names = ", ".join(str(path.relative_to(root)) for path in nested)
        raise ConfigError(
            f"{root} has several devcontainer.json files ({names})",
            hint=f"name the one to use: `{INIT_HINT} {nested[0].relative_to(root)}`",
        )
    return nested[0] if nested else None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(root: Path, path: Path) -> Source:
    """The file at ``path`` (inside the project ``root``)."""
    path = path if path.is_absolute() else Path.cwd() / path
    absolute = Path(*(_normal_parts(path)))
    if absolute != root and root not in absolute.parents:
        raise ConfigError(
            f"{path} is outside the project {root}",
            hint="a project's devcontainer.json is in the project (.devcontainer/)",
        )
    data = read_regular(absolute)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{absolute}: not UTF-8 text ({err.reason})") from err
    return Source(absolute, str(absolute.relative_to(root)), text, digest(data))


def _normal_parts(path: Path) -> list[str]:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return parts


def changed(root: Path, relative: str, sha256: str) -> str | None:
    """Why the imported file is no longer what was imported, or None when it is."""
    try:
        data = read_regular(root / relative)
    except ConfigError as err:
        return err.message
    if digest(data) != sha256:
        return f"{root / relative} changed since it was imported into .tazpod/config.yaml"
    return None
