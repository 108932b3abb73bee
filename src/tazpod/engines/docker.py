"""Docker through its Python SDK; interactive sessions through the docker CLI (TTY)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tazpod.engines.base import (
    ANCHOR_OPTIONS,
    LABEL_MANAGED,
    ContainerInfo,
    ContainerSpec,
    Progress,
)
from tazpod.engines.buildlog import BuildLog
from tazpod.engines.hints import PULL_HINT, RLIMIT_HINT, build_hint, create_hint, unreachable_hint
from tazpod.errors import EngineError


def _info(container: Any) -> ContainerInfo:
    tags = container.image.tags if container.image is not None else []
    image = tags[0] if tags else container.attrs.get("Config", {}).get("Image", "")
    return ContainerInfo(
        name=container.name,
        id=container.short_id,
        state=container.status,
        image=image,
        labels=dict(container.labels or {}),
        pid=int((container.attrs.get("State") or {}).get("Pid") or 0),
    )


def _ulimits(specs: Sequence[str]) -> list[Any]:
    from docker.types import Ulimit

    out = []
    for spec in specs:
        name, _, limits = spec.partition("=")
        soft, _, hard = limits.partition(":")
        out.append(Ulimit(name=name, soft=int(soft), hard=int(hard or soft)))
    return out


class DockerEngine:
    name = "docker"

    def __init__(self) -> None:
        import docker
        import docker.errors

        self._errors = docker.errors
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except docker.errors.DockerException as err:
            raise EngineError(
                f"cannot reach the Docker engine: {err}", hint=unreachable_hint(str(err))
            ) from None

    def image_exists(self, image: str) -> bool:
        try:
            self.client.images.get(image)
        except self._errors.ImageNotFound:
            return False
        return True

    def pull(self, image: str, progress: Progress) -> None:
        repository, _, tag = (
            image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        )
        try:
            for chunk in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise EngineError(f"cannot pull {image}: {chunk['error']}", hint=PULL_HINT)
                status = " ".join(str(chunk.get(k, "")) for k in ("id", "status", "progress"))
                if status.strip():
                    progress(status.strip())
        except self._errors.APIError as err:
            raise EngineError(f"cannot pull {image}: {err.explanation}", hint=PULL_HINT) from None

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
        target: str | None = None,
    ) -> None:
        stream = self.client.api.build(
            path=str(context),
            dockerfile=str(dockerfile),
            tag=tag,
            buildargs=dict(args),
            rm=True,
            decode=True,
            network_mode="host",
            target=target,
        )
        log = BuildLog(progress)
        for chunk in stream:
            if "error" in chunk:
                error = chunk["error"].strip()
                raise EngineError(log.failure(tag, error), hint=build_hint(error))
            log.feed(str(chunk.get("stream", "")))

    def find(self, name: str) -> ContainerInfo | None:
        try:
            return _info(self.client.containers.get(name))
        except self._errors.NotFound:
            return None

    def list_managed(self) -> list[ContainerInfo]:
        found = self.client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"})
        return sorted((_info(c) for c in found), key=lambda c: c.name)

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        try:
            container = self.client.containers.create(**sdk_arguments(spec))
        except self._errors.ImageNotFound as err:
            raise EngineError(
                f"image {spec.image} is not available: {err.explanation}",
                hint="build it with `tazpod build`, or `tazpod image bootstrap` offline",
            ) from None
        except self._errors.APIError as err:
            detail = str(err.explanation)
            raise EngineError(
                f"cannot create {spec.name}: {detail}", hint=create_hint(detail)
            ) from None
        return _info(container)

    def start(self, name: str, progress: Progress = lambda _message: None) -> None:
        try:
            self.client.containers.get(name).start()
        except self._errors.APIError as err:
            hint = RLIMIT_HINT if "rlimit" in str(err.explanation) else None
            raise EngineError(f"cannot start {name}: {err.explanation}", hint=hint) from None

    def remove(self, name: str, purge: bool = False) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except self._errors.NotFound:
            return

    def import_image(self, rootfs_tar: Path, tag: str) -> None:
        repository, _, version = tag.partition(":")
        with rootfs_tar.open("rb") as handle:
            self.client.api.import_image_from_data(
                handle.read(), repository=repository, tag=version or "latest"
            )

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        from tazpod.engines.docker_socket import exec_argv

        return exec_argv(name, argv, user, tty, workdir)


def sdk_arguments(spec: ContainerSpec) -> dict[str, Any]:
    """`containers.create`'s arguments for ``spec`` (docker_api.create_body is the same
    container, as the Engine API's request: a unit test compares the two)."""
    # (the list form: a mapping keyed by source would lose a second mount of one source)
    volumes = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in spec.mounts]
    return {
        "image": spec.image,
        "command": list(spec.command),
        "name": spec.name,
        "labels": dict(spec.labels),
        "volumes": volumes,
        "environment": dict(spec.environment),
        "working_dir": spec.workdir,
        "network_mode": spec.network,
        "init": True,
        "cap_add": list(spec.cap_add) or None,
        "cap_drop": list(spec.cap_drop) or None,
        "security_opt": _security_opt(spec) or None,
        "devices": list(spec.devices) or None,
        "device_cgroup_rules": list(spec.device_cgroup_rules) or None,
        "privileged": spec.privileged,
        "ulimits": _ulimits(spec.ulimits) or None,
        "tmpfs": {path: ANCHOR_OPTIONS for path in spec.anchors} or None,
        "mem_limit": spec.memory,
        "nano_cpus": spec.nano_cpus,
        "shm_size": spec.shm_size,
        "hostname": spec.hostname,
        "detach": True,
    }


def _security_opt(spec: ContainerSpec) -> list[str]:
    """The daemon takes a seccomp profile's text (the docker CLI reads the file for it)."""
    return [*spec.security_opt, *([f"seccomp={spec.seccomp}"] if spec.seccomp else [])]
