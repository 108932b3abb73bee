"""The engine's own description of a container, and whether the engine runs rootless."""

from __future__ import annotations

import json
from typing import Any

from tazpod.errors import EngineError


def inspect(engine: Any, name: str) -> tuple[dict[str, Any], bool]:
    """(the inspect document, rootless) of container ``name`` on ``engine`` (Docker's
    socket or SDK, Podman's CLI); EngineError when the engine cannot say."""
    if engine.name == "podman":
        data = engine.inspect(name)
        if data is None:
            raise EngineError(f"podman cannot inspect {name}")
        return data, bool(getattr(engine, "rootless", False))
    if engine.name != "docker":
        raise EngineError(f"{engine.name}: no container description to check")
    path = getattr(engine, "path", None)
    if path is not None:
        from tazpod.engines import docker_socket

        status, body = docker_socket.get(path, f"/containers/{docker_socket.quote(name)}/json")
        if status != 200:
            raise EngineError(f"Docker cannot inspect {name}: {docker_socket.message(body)}")
        data = json.loads(body)
        status, body = docker_socket.get(path, "/info")
        info = json.loads(body) if status == 200 else {}
    else:  # the SDK (a DOCKER_HOST that is no Unix socket)
        data = engine.client.api.inspect_container(name)
        info = engine.client.info()
    options = [str(option) for option in info.get("SecurityOptions") or []]
    return dict(data), any("name=rootless" in option for option in options)
