"""Where the dev container runs, behind one interface (see ``engines.base``).

Engine libraries are imported only here, only when a command needs them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tazpod.engines.base import Engine
    from tazpod.engines.docker_socket import DockerSocketLookup
    from tazpod.project.schema import KubernetesConfig


def get_session_engine(
    name: str, kubernetes: KubernetesConfig | None = None
) -> DockerSocketLookup | Engine:
    """What exec, ssh and forwarding need: a container lookup and an exec command line."""
    if name == "docker":
        from tazpod.engines.docker_socket import DockerSocketLookup, socket_path

        path = socket_path()
        if path is not None:
            return DockerSocketLookup(path)
    return get_engine(name, kubernetes)


def get_engine(name: str, kubernetes: KubernetesConfig | None = None) -> Engine:
    if name == "docker":
        from tazpod.engines.docker_socket import socket_path

        path = socket_path()
        if path is not None:  # the container's lifecycle without the SDK's import
            from tazpod.engines.docker_api import DockerSocketEngine

            return DockerSocketEngine(path)
        from tazpod.engines.docker import DockerEngine

        return DockerEngine()
    if name == "podman":
        from tazpod.engines.podman import PodmanEngine

        return PodmanEngine()
    if name == "kubernetes":
        from tazpod.engines.kubernetes.engine import KubernetesEngine
        from tazpod.project.schema import KubernetesConfig

        return KubernetesEngine(kubernetes or KubernetesConfig())
    from tazpod.errors import ConfigError

    raise ConfigError(
        f"engine {name!r} is not available in this version",
        hint="use engine: docker, podman or kubernetes",
    )
