"""Where the dev container runs, behind one interface (see ``engines.base``).

Engine libraries are imported only here, only when a command needs them.
"""

from __future__ import annotations

from tazpod.engines.base import Engine
from tazpod.errors import ConfigError


def get_engine(name: str) -> Engine:
    if name == "docker":
        from tazpod.engines.docker import DockerEngine

        return DockerEngine()
    if name == "podman":
        from tazpod.engines.podman import PodmanEngine

        return PodmanEngine()
    raise ConfigError(
        f"engine {name!r} is not available in this version",
        hint="use engine: docker or engine: podman",
    )
