"""Docker's container lifecycle on its Unix socket: what `up` and `down` need, no SDK.

Importing the Docker SDK costs more than `docker run -d` takes (~130 ms: requests,
urllib3, ...). Finding, creating, starting and removing a container, and asking whether
an image is there, are one HTTP request each (tazpod.engines.docker_socket); the
request bodies are the Engine API's own (`POST /containers/create` with its HostConfig,
as the SDK and the docker CLI send them). Building, pulling, importing images and listing
containers are rare and stream large replies: they go through the SDK, imported then.
"""

from __future__ import annotations

import json

from tazpod.engines import docker_socket
from tazpod.engines.base import ANCHOR_OPTIONS, ContainerInfo, ContainerSpec, Progress
from tazpod.engines.docker_socket import DockerSocketLookup, quote
from tazpod.engines.hints import RLIMIT_HINT, create_hint
from tazpod.errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from tazpod.engines.docker import DockerEngine


def create_body(spec: ContainerSpec) -> dict[str, Any]:
    """The Engine API's container configuration for ``spec`` (what the SDK sent for it)."""
    host: dict[str, Any] = {
        "Binds": [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in spec.mounts],
        "NetworkMode": spec.network,
        "Init": True,
        "Privileged": spec.privileged,
    }
    if spec.cap_add:
        host["CapAdd"] = list(spec.cap_add)
    if spec.cap_drop:
        host["CapDrop"] = list(spec.cap_drop)
    # The daemon takes a seccomp profile's text (the docker CLI reads the file for it).
    security = [*spec.security_opt, *([f"seccomp={spec.seccomp}"] if spec.seccomp else [])]
    if security:
        host["SecurityOpt"] = security
    if spec.devices:
        host["Devices"] = [
            {"PathOnHost": d, "PathInContainer": d, "CgroupPermissions": "rwm"}
            for d in spec.devices
        ]
    if spec.device_cgroup_rules:
        host["DeviceCgroupRules"] = list(spec.device_cgroup_rules)
    if spec.ulimits:
        host["Ulimits"] = [_ulimit(text) for text in spec.ulimits]
    if spec.anchors:
        host["Tmpfs"] = {path: ANCHOR_OPTIONS for path in spec.anchors}
    for key, value in (
        ("Memory", spec.memory),
        ("NanoCpus", spec.nano_cpus),
        ("ShmSize", spec.shm_size),
    ):
        if value is not None:
            host[key] = value
    body: dict[str, Any] = {"Hostname": spec.hostname} if spec.hostname else {}
    return body | {
        "Image": spec.image,
        "Cmd": list(spec.command),
        "Labels": dict(spec.labels),
        "Env": [f"{key}={value}" for key, value in spec.environment.items()],
        "WorkingDir": spec.workdir,
        "Volumes": {m.target: {} for m in spec.mounts},  # (as the SDK declares binds)
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host,
    }


def _ulimit(text: str) -> dict[str, Any]:
    name, _, limits = text.partition("=")
    soft, _, hard = limits.partition(":")
    return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}


class DockerSocketEngine(DockerSocketLookup):
    """The Engine interface on Docker's Unix socket (build, pull, import, list: the SDK)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._sdk: DockerEngine | None = None

    def _call(self, method: str, target: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        return docker_socket.request(self.path, method, target, data)

    def image_exists(self, image: str) -> bool:
        status, body = self._call("GET", f"/images/{quote(image, safe=b'/:')}/json")
        if status == 404:
            return False
        if status != 200:
            raise EngineError(f"cannot look up image {image}: {docker_socket.message(body)}")
        return True

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        status, body = self._call(
            "POST", f"/containers/create?name={quote(spec.name)}", create_body(spec)
        )
        detail = docker_socket.message(body)
        if status == 404:
            raise EngineError(
                f"image {spec.image} is not available: {detail}",
                hint="build it with `tazpod build`, or `tazpod image bootstrap` offline",
            )
        if status != 201:
            raise EngineError(f"cannot create {spec.name}: {detail}", hint=create_hint(detail))
        info = self.find(spec.name)
        if info is None:
            raise EngineError(f"Docker created {spec.name} but cannot find it")
        return info

    def start(self, name: str, progress: Progress = lambda _message: None) -> None:
        status, body = self._call("POST", f"/containers/{quote(name)}/start")
        if status not in (204, 304):  # (304: it runs already)
            detail = docker_socket.message(body)
            hint = RLIMIT_HINT if "rlimit" in detail else None
            raise EngineError(f"cannot start {name}: {detail}", hint=hint)

    def remove(self, name: str, purge: bool = False) -> None:
        status, body = self._call("DELETE", f"/containers/{quote(name)}?force=1")
        if status not in (204, 404):
            raise EngineError(f"cannot remove {name}: {docker_socket.message(body)}")

    # The rest streams or lists: the SDK, imported only now.
    def _full(self) -> DockerEngine:
        if self._sdk is None:
            from tazpod.engines.docker import DockerEngine

            self._sdk = DockerEngine()
        return self._sdk

    def pull(self, image: str, progress: Progress) -> None:
        self._full().pull(image, progress)

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
        target: str | None = None,
    ) -> None:
        self._full().build(context, dockerfile, tag, args, progress, target)

    def list_managed(self) -> list[ContainerInfo]:
        return self._full().list_managed()

    def import_image(self, rootfs_tar: Path, tag: str) -> None:
        self._full().import_image(rootfs_tar, tag)
