"""What an import of a devcontainer.json collects as it reads the file's properties."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tazpod.project.devcontainer_json import jsonc
from tazpod.project.devcontainer_json.source import Source
from tazpod.project.devcontainer_json.variables import Unresolved, Variables

# config.yaml's keys an import owns: set from the file, or removed when it has none.
DERIVED = (
    *("vertical", "image", "build", "environment", "mounts", "forward_ports", "hooks"),
    *("memory", "cpus", "shm_size", "hostname", "devcontainer", "devcontainer_features"),
)


@dataclass
class Imported:
    source: Source
    settings: dict[str, Any] = field(default_factory=dict)  # config.yaml's keys to set
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was imported, for the summary
    refused: list[str] = field(default_factory=list)  # "file:line: property: reason"

    @property
    def removed(self) -> list[str]:
        """The derived keys this file does not set: an older import's are removed."""
        return [key for key in DERIVED if key not in self.settings]


@dataclass
class Context:
    data: jsonc.JsonObject
    source: Source
    root: Path
    variables: Variables
    out: Imported
    places: tuple[tuple[str, str], ...] = ()  # what tazpod puts in the container's home
    run_env: dict[str, str] = field(default_factory=dict)  # runArgs' -e, after containerEnv

    def where(self, key: str, inner: str | int | None = None) -> str:
        """`file:line: property` (``inner``: an index, a key, or a dotted path of keys)."""
        if inner is None:
            return f"{self.source.path}:{self.data.lines.get(key, 1)}: {key}"
        label = f"{key}[{inner}]" if isinstance(inner, int) else f"{key}.{inner}"
        return f"{self.source.path}:{self._line(key, inner)}: {label}"

    def _line(self, key: str, inner: str | int) -> int:
        value, line = self.data.get(key), self.data.lines.get(key, 1)
        whole = isinstance(inner, int) or (isinstance(value, dict) and inner in value)
        for part in [inner] if whole else str(inner).split("."):
            line = jsonc.line_of(value, part, line)
            value = value.get(part) if isinstance(value, dict) and isinstance(part, str) else None
        return line

    def warn(self, key: str, text: str, inner: str | int | None = None) -> None:
        self.out.warnings.append(f"{self.where(key, inner)}: {text}")

    def refuse(self, key: str, text: str, inner: str | int | None = None) -> None:
        self.out.refused.append(f"{self.where(key, inner)}: {text}")

    def drop(self, key: str, text: str, inner: str | int | None = None) -> None:
        """What would widen the container's privileges: not applied, said why; the rest of
        the file still imports (a team's file often asks for a debugger's capabilities)."""
        self.out.warnings.append(f"{self.where(key, inner)}: not applied: {text}")

    def resolved(self, key: str, value: str, inner: str | int | None = None) -> str | None:
        """``value`` with its variables replaced; None (refused) when it needs an
        environment's: a setting that cannot be left out cannot be half there."""
        try:
            return self.variables.resolve(value)
        except Unresolved as err:
            self.refuse(
                key,
                f"uses {err.variable}: config.yaml keeps nothing of the host's"
                " or the container's environment; give the value itself",
                inner,
            )
            return None
