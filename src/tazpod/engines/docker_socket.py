"""The Docker engine's two hot read-only paths without the Docker SDK.

Importing the SDK costs ~130 ms (requests, urllib3, ...), more than `docker exec` itself.
`tazpod exec`, `ssh` and the forwarded enclave commands only need to know whether the
project's container runs, then hand over to the docker CLI: one HTTP request on the
engine's Unix socket does that. Anything else (a TCP or SSH DOCKER_HOST) uses the SDK.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Sequence

from tazpod.engines.base import ContainerInfo, exec_command
from tazpod.errors import EngineError
from tazpod.sysio.tools import find_tool

DEFAULT_SOCKET = "/var/run/docker.sock"


def socket_path() -> str | None:
    """The engine's Unix socket, or None when DOCKER_HOST points elsewhere."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    return host[len("unix://") :] if host.startswith("unix://") else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def inspect(path: str, name: str) -> ContainerInfo | None:
    connection = _UnixConnection(path)
    try:
        connection.request("GET", f"/containers/{urllib.parse.quote(name, safe='')}/json")
        response = connection.getresponse()
        body = response.read()
    except OSError as err:
        raise EngineError(
            f"cannot reach the Docker engine at {path}: {err.strerror or err}",
            hint="start it (e.g. `sudo systemctl start docker`), or check that you may use"
            " its socket",
        ) from None
    finally:
        connection.close()
    if response.status == 404:
        return None
    if response.status != 200:
        raise EngineError(f"the Docker engine answered {response.status} for {name}")
    data = json.loads(body)
    config = data.get("Config") or {}
    return ContainerInfo(
        name=str(data.get("Name", name)).lstrip("/"),
        id=str(data.get("Id", ""))[:12],
        state=str((data.get("State") or {}).get("Status", "")),
        image=str(config.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
    )


def exec_argv(
    name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
) -> list[str]:
    cli = find_tool("docker", on_path=True)  # the user's own client, on the host
    if cli is None:
        raise EngineError(
            "the docker command-line client is needed for interactive sessions",
            hint="install it (Debian/Ubuntu: docker.io or docker-ce-cli)",
        )
    return exec_command(cli, name, argv, user, tty, workdir)


class DockerSocketLookup:
    """The Docker engine as sessions need it, from its socket alone: `find` and `exec_argv`.

    What `get_session_engine` hands out instead of the full DockerEngine (and its SDK).
    """

    name = "docker"

    def __init__(self, path: str) -> None:
        self.path = path

    def find(self, container: str) -> ContainerInfo | None:
        return inspect(self.path, container)

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        return exec_argv(name, argv, user, tty, workdir)
