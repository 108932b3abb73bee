"""``images/<vertical>/artifacts.toml``: the tools a vertical needs, as Artifact values.

Each entry names a version, the vendor's download (or npm package) and where the
vendor publishes its checksum; ``{version}``, ``{arch}`` and ``{nodearch}`` are
filled in for this machine. Errors name the file and the key.
"""

from __future__ import annotations

import platform
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ArtifactError

ARCHES = {"x86_64": ("amd64", "x64"), "aarch64": ("arm64", "arm64")}  # (go, node) names
_KEYS = {"version", "url", "sha256", "npm", "member", "tree", "target", "arch", "unless"}


@dataclass(frozen=True)
class Artifact:
    name: str
    version: str
    url: str | None  # a vendor download; None for npm packages
    sha256_url: str | None  # where the vendor publishes its sha256
    npm: str | None  # an npm package (its registry entry carries the checksum)
    member: str | None  # the one file to take out of a .tar.gz
    tree: str | None  # a directory of a .tar.gz to unpack whole
    target: str  # where it lands in the build context's tools/ (-> /usr/local)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version} linux/{machine_arch()[0]}"


def machine_arch() -> tuple[str, str]:
    machine = platform.machine()
    if machine not in ARCHES:
        raise ArtifactError(f"the verticals' tools are not published for {machine}")
    return ARCHES[machine]


def _check_entry(where: str, entry: object) -> dict[str, object]:
    if not isinstance(entry, dict):
        raise ArtifactError(f"{where} must be a table")
    for key, value in entry.items():
        if key not in _KEYS:
            raise ArtifactError(f"{where}: unknown key {key}")
        if key == "arch":  # {go name = the vendor's name}
            if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
                raise ArtifactError(f"{where}: arch must be a table of strings")
        elif not isinstance(value, str):
            raise ArtifactError(f"{where}: {key} must be a string")
    if "version" not in entry or "target" not in entry:
        raise ArtifactError(f"{where} needs version and target")
    if ("npm" in entry) == ("url" in entry) or ("url" in entry) != ("sha256" in entry):
        raise ArtifactError(f"{where} needs either npm, or url with sha256")
    if "member" in entry and "tree" in entry:
        raise ArtifactError(f"{where}: member and tree exclude each other")
    unless = entry.get("unless")
    if unless is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", str(unless)):
        raise ArtifactError(f"{where}: unless must read NAME=value (a build argument)")
    return entry


def load_artifacts(path: Path, build_args: Mapping[str, str] | None = None) -> list[Artifact]:
    """Read one vertical's artifacts.toml; errors name the file and the key.

    An entry with ``unless = "NAME=value"`` is left out when the build sets NAME=value.
    ``{arch}`` is the Go name (amd64, arm64) unless the entry's ``arch`` table renames it.
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ArtifactError(f"{path}: {err}") from err
    go_arch, node_arch = machine_arch()
    found = []
    for name, raw in data.items():
        where = f"{path}: [{name}]"
        entry = _check_entry(where, raw)
        unless = str(entry.get("unless", ""))
        if unless and (build_args or {}).get(unless.split("=", 1)[0]) == unless.split("=", 1)[1]:
            continue
        names = entry.get("arch", {})
        arch = names.get(go_arch, go_arch) if isinstance(names, dict) else go_arch
        version = str(entry["version"])
        values = {
            k: v.format(version=version, arch=arch, nodearch=node_arch)
            for k, v in entry.items()
            if isinstance(v, str)
        }
        if values["target"].startswith("/") or ".." in values["target"].split("/"):
            raise ArtifactError(f"{where}: target must be a relative path inside tools/")
        found.append(
            Artifact(
                name=name,
                version=values["version"],
                url=values.get("url"),
                sha256_url=values.get("sha256"),
                npm=values.get("npm"),
                member=values.get("member"),
                tree=values.get("tree"),
                target=values["target"],
            )
        )
    return found
