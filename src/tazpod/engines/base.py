"""The engine interface and the container description tazpod hands to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

LABEL_PROJECT = "dev.tazpod.project"
LABEL_VERSION = "dev.tazpod.version"
LABEL_MANAGED = "dev.tazpod.managed"

Progress = Callable[[str], None]
ANCHOR_OPTIONS = "ro,size=4k,mode=0755"  # an anchor's tmpfs: empty, read-only, root's


@dataclass(frozen=True)
class Mount:
    source: Path  # a host path; with ``volume``, the engine's named volume (its name)
    target: str
    read_only: bool = False
    volume: bool = False  # (the engines' bind syntax `SOURCE:TARGET:MODE` takes either)


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    labels: Mapping[str, str]
    mounts: Sequence[Mount]
    environment: Mapping[str, str]
    network: str
    workdir: str = "/workspace"
    command: Sequence[str] = ("sleep", "infinity")
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    security_opt: Sequence[str] = ()
    devices: Sequence[str] = ()
    device_cgroup_rules: Sequence[str] = ()
    privileged: bool = False
    ulimits: Sequence[str] = ()  # NAME=SOFT:HARD, as `docker run --ulimit`
    seccomp: str | None = None  # the profile's JSON text (tazpod.engines.seccomp)
    # Paths held by an empty read-only tmpfs (the vault's mount point, the bridges): a
    # mount point cannot be renamed away under an enclave (see sysio.mounts.is_anchor).
    anchors: Sequence[str] = ()
    # The container user's uid and gid: a rootless engine maps the host user who runs
    # tazpod to them, so that user owns the workspace on both sides.
    user_ids: tuple[int, int] = (1000, 1000)
    # `docker run --memory`, `--cpus` (in billionths), `--shm-size`, `--hostname`.
    memory: int | None = None
    nano_cpus: int | None = None
    shm_size: int | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    id: str
    state: str  # running, exited, created, ...
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    pid: int = 0  # its first process, in the engine host's pid namespace (0: not running)
    full_id: str = ""  # the whole id, where the engine's lookup gave it (Docker's socket)

    @property
    def managed(self) -> bool:
        return self.labels.get(LABEL_MANAGED) == "true"

    @property
    def project(self) -> str | None:
        return self.labels.get(LABEL_PROJECT)

    @property
    def version(self) -> str | None:
        return self.labels.get(LABEL_VERSION)


def exec_command(
    binary: str, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
) -> list[str]:
    """`<engine> exec -i [-t] -u USER [-w DIR] NAME ARGV...` (docker and podman agree)."""
    command = [binary, "exec", "-i"]
    if tty:
        command.append("-t")
    command += ["-u", user]
    if workdir:
        command += ["-w", workdir]
    return [*command, name, *argv]


class StageBuilder(Protocol):
    """An engine that builds one stage of a multi-stage Dockerfile (Docker's, Podman's)."""

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
        target: str | None = None,
    ) -> None: ...


class Engine(Protocol):
    name: str

    def image_exists(self, image: str) -> bool: ...

    def pull(self, image: str, progress: Progress) -> None: ...

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
    ) -> None: ...

    def find(self, name: str) -> ContainerInfo | None: ...

    def list_managed(self) -> list[ContainerInfo]: ...

    def create(self, spec: ContainerSpec) -> ContainerInfo: ...

    def start(self, name: str, progress: Progress = ...) -> None: ...

    def remove(self, name: str, purge: bool = ...) -> None: ...

    def import_image(self, rootfs_tar: Path, tag: str) -> None: ...

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]: ...
