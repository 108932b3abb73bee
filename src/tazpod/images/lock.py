"""``.tazpod/artifacts.lock``: the sha256 each tool had when this project first fetched it.

Committed with the project (go.sum's rule): a later download that differs from
its pin is refused, so teammates and rebuilds get the same bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tazpod.errors import ArtifactError
from tazpod.images.manifest import Artifact
from tazpod.sysio.files import write_atomic

LOCK_FILE = "artifacts.lock"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class Lock:
    """``.tazpod/artifacts.lock``: the sha256 each tool had when this project first fetched it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pins: dict[str, dict[str, str]] = {}
        self.changed = False
        if path.exists():
            self._read()

    def _read(self) -> None:
        hint = f"restore it from git, or delete {self.path} to pin the tools again"
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise ArtifactError(f"{self.path}: not a readable lock file ({err})", hint) from err
        pins = data.get("artifacts") if isinstance(data, dict) else None
        if not isinstance(pins, dict):
            raise ArtifactError(f"{self.path}: has no artifacts table", hint)
        for key, pin in pins.items():
            if not (isinstance(pin, dict) and HEX64.match(str(pin.get("sha256", "")))):
                raise ArtifactError(f"{self.path}: {key}: sha256 is missing or malformed", hint)
        self.pins = pins

    def pinned(self, artifact: Artifact) -> str | None:
        pin = self.pins.get(artifact.key)
        return None if pin is None else str(pin["sha256"]).lower()

    def pin(self, artifact: Artifact, source: str, sha256: str) -> None:
        name, platform_ = artifact.name, artifact.key.split(" ")[1]
        for key in [k for k in self.pins if k != artifact.key]:
            if key.split("@")[0] == name and key.endswith(" " + platform_):
                del self.pins[key]  # another version of this tool on this platform
        self.pins[artifact.key] = {"source": source, "sha256": sha256}
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        body = {
            "comment": "tazpod: sha256 of each vertical tool; commit this file",
            "artifacts": dict(sorted(self.pins.items())),
        }
        # Committed with the project, not secret: readable like the project's other files,
        # and owned like its directory (also when the build ran under sudo).
        info = self.path.parent.stat()
        data = (json.dumps(body, indent=2) + "\n").encode()
        write_atomic(self.path, data, mode=0o644, owner=(info.st_uid, info.st_gid))
        self.changed = False
