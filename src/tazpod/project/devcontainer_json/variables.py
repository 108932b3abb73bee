"""`${...}` variables in devcontainer.json values, as the spec defines them.

The devcontainers CLI replaces `${name}` and `${name:arg:default}` (the text up to the first
`}`) in every string. tazpod replaces the ones that describe the project:
`${localWorkspaceFolder}` (the project's directory on this host),
`${localWorkspaceFolderBasename}`, `${containerWorkspaceFolder}` (always /workspace),
`${containerWorkspaceFolderBasename}` and `${devcontainerId}` (the project's container
name: unique on the host and stable across rebuilds, as the spec asks).

`${localEnv:X}` (also `${env:X}`) and `${containerEnv:X}` are never resolved into
config.yaml: the host's environment may hold secrets and config.yaml is committed, and
the container's environment is not known when the file is imported. A value that uses
one is left out, and the import says so by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORKSPACE = "/workspace"
_VARIABLE = re.compile(r"\$\{(.*?)\}")
_FROM_ENVIRONMENT = ("localEnv", "env", "containerEnv")


class Unresolved(ValueError):
    """A value that names the host's or the container's environment."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


@dataclass(frozen=True)
class Variables:
    local_folder: str  # the project's root on this host
    container_id: str  # the container's name, for ${devcontainerId}

    def resolve(self, text: str) -> str:
        """``text`` with the project's variables replaced; Unresolved for an environment's."""
        return _VARIABLE.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        name = match.group(1).split(":", 1)[0]
        if name in _FROM_ENVIRONMENT:
            raise Unresolved(match.group(0))
        known = {
            "localWorkspaceFolder": self.local_folder,
            "localWorkspaceFolderBasename": self.local_folder.rstrip("/").rsplit("/", 1)[-1],
            "containerWorkspaceFolder": WORKSPACE,
            "containerWorkspaceFolderBasename": WORKSPACE.rsplit("/", 1)[-1],
            "devcontainerId": self.container_id,
        }
        return known.get(name, match.group(0))  # unknown: kept as written, as the CLI does
