"""Where the dev container runs, behind one interface (see ``engines.base``).

Engine libraries are imported only here, only when a command needs them.
"""

from __future__ import annotations

from collections.abc import Sequence

from tazpod.engines.base import ContainerInfo, Engine
from tazpod.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tazpod.project.config import KubernetesConfig


class QuickDocker:
    """Only `find` and `exec_argv` of the Docker engine, without importing its SDK."""

    name = "docker"

    def __init__(self, path: str) -> None:
        self.path = path

    def find(self, container: str) -> ContainerInfo | None:
        from tazpod.engines.docker_socket import inspect

        return inspect(self.path, container)

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        from tazpod.engines.docker_socket import exec_argv

        return exec_argv(name, argv, user, tty, workdir)


def get_session_engine(
    name: str, kubernetes: KubernetesConfig | None = None
) -> QuickDocker | Engine:
    """What exec, ssh and forwarding need: a container lookup and an exec command line."""
    if name == "docker":
        from tazpod.engines.docker_socket import socket_path

        path = socket_path()
        if path is not None:
            return QuickDocker(path)
    return get_engine(name, kubernetes)


def get_engine(name: str, kubernetes: KubernetesConfig | None = None) -> Engine:
    if name == "docker":
        from tazpod.engines.docker import DockerEngine

        return DockerEngine()
    if name == "podman":
        from tazpod.engines.podman import PodmanEngine

        return PodmanEngine()
    if name == "kubernetes":
        from tazpod.engines.kubernetes.engine import KubernetesEngine
        from tazpod.project.config import KubernetesConfig

        return KubernetesEngine(kubernetes or KubernetesConfig())
    raise ConfigError(
        f"engine {name!r} is not available in this version",
        hint="use engine: docker, podman or kubernetes",
    )
