"""Issue 20: `up` creates the container on Docker's socket; the request is the SDK's own.

The body tazpod sends (engines/docker_api.create_body) is compared with the one the Docker
SDK builds from the arguments tazpod gave it before (docker.models.containers turns
them into a ContainerConfig: the SDK's code, not ours, says what the API expects), for
a plain spec and one with every field the luks backend and the user's settings add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tazpod.engines.base import ContainerSpec, Mount
from tazpod.engines.docker import sdk_arguments
from tazpod.engines.docker_api import create_body

PLAIN = ContainerSpec(
    name="tazpod-p-1",
    image="tazpod-base:1",
    labels={"dev.tazpod.managed": "true", "dev.tazpod.project": "/p"},
    mounts=[Mount(Path("/p"), "/workspace")],
    environment={"TAZPOD_CONTAINER": "1"},
    network="host",
    cap_drop=("NET_RAW", "MKNOD"),
    security_opt=("no-new-privileges:true",),
    seccomp='{"defaultAction": "SCMP_ACT_ERRNO"}',
)
FULL = ContainerSpec(
    name="tazpod-p-2",
    image="tazpod-base:1",
    labels={"dev.tazpod.managed": "true"},
    mounts=[Mount(Path("/p"), "/workspace"), Mount(Path("/x/.Xauthority"), "/h/.X", True)],
    environment={"TAZPOD_CONTAINER": "1", "DISPLAY": ":0"},
    network="none",
    cap_add=("SYS_ADMIN",),
    cap_drop=("NET_RAW",),
    security_opt=("no-new-privileges:true", "apparmor=unconfined"),
    devices=("/dev/loop-control", "/dev/mapper/control"),
    device_cgroup_rules=("b 7:* rmw", "b 253:* rmw"),
    ulimits=("nofile=20000:20000", "nproc=32768"),
    seccomp=None,
    anchors=("/h/secrets", "/h/.infisical"),
)

# Issue 18: what a devcontainer.json adds (a named volume, one source mounted twice, limits).
DEVCONTAINER = ContainerSpec(
    name="tazpod-p-3",
    image="tazpod-devcontainer-p:latest",
    labels={"dev.tazpod.managed": "true"},
    mounts=[
        Mount(Path("/p"), "/workspace"),
        Mount(Path("/p"), "/srv/again", True),
        Mount(Path("p-cache"), "/home/vscode/.cache", volume=True),
    ],
    environment={"TAZPOD_CONTAINER": "1", "NODE_ENV": "development"},
    network="none",
    memory=4 << 30,
    nano_cpus=1_500_000_000,
    shm_size=1 << 30,
    hostname="devbox",
)


def _sdk_body(spec: ContainerSpec) -> dict[str, Any]:
    from docker.constants import DEFAULT_DOCKER_API_VERSION
    from docker.models.containers import _create_container_args
    from docker.types import ContainerConfig

    kwargs = sdk_arguments(spec)
    kwargs.pop("detach")
    kwargs["version"] = DEFAULT_DOCKER_API_VERSION  # (what ContainerCollection.create adds)
    args = _create_container_args(kwargs)
    args.pop("name")
    args["networking_config"] = None  # (sent as a separate part; the network mode is below)
    return dict(ContainerConfig(DEFAULT_DOCKER_API_VERSION, **args))


@pytest.mark.parametrize(
    "spec", [PLAIN, FULL, DEVCONTAINER], ids=["plain", "luks-and-settings", "devcontainer"]
)
def test_the_create_request_is_the_one_the_sdk_sends(spec: ContainerSpec) -> None:
    ours, theirs = create_body(spec), _sdk_body(spec)
    for key, value in ours.items():
        if key == "HostConfig":
            continue
        assert theirs[key] == value, key
    # An option left out and one sent empty mean the same.
    unset: tuple[object, ...] = (None, False, [], {})
    sdk_host = {k: v for k, v in theirs["HostConfig"].items() if v not in unset}
    our_host = {k: v for k, v in ours["HostConfig"].items() if v not in unset}
    assert our_host == sdk_host
    # Whatever else the SDK sets is its default for an unset option.
    extra = {k: v for k, v in theirs.items() if k not in ours and v not in (*unset, "")}
    assert extra == {}, extra


# Recorded from dockerd 20.10.24 (Debian 12's docker.io).
_HEAD = (
    b"Api-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
    b"Server: Docker/20.10.24+dfsg1 (linux)\r\nDate: Sun, 06 Dec 2026 09:11:27 GMT\r\n"
)
CREATED = (
    b"HTTP/1.0 201 Created\r\n" + _HEAD + b"Content-Type: application/json\r\n"
    b"Content-Length: 88\r\n\r\n"
    b'{"Id":"84ed923955b1f61a13dc4a223d3f86863cfb77c9609446c5d26c4f27633fe300","Warnings":[]}\n'
)
STARTED = b"HTTP/1.0 204 No Content\r\n" + _HEAD + b"\r\n"
IMAGE = (
    b"HTTP/1.0 200 OK\r\n"
    + _HEAD
    + b"Content-Type: application/json\r\n\r\n"
    + (
        b'{"Id":"sha256:c9217244a5e50a9b5027bcdddc4be749805b9cfedd643936f18236026f3b005c",'
        b'"RepoTags":["tazpod-base:0.2.0"]}\n'
    )
)
GONE = b'{"message":"No such container: tazpod"}\n'
ABSENT = (
    b"HTTP/1.0 404 Not Found\r\n"
    + _HEAD
    + b"Content-Type: application/json\r\n"
    + f"Content-Length: {len(GONE)}\r\n\r\n".encode()
    + GONE
)


def test_up_creates_and_starts_on_the_socket_without_the_sdk(tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    from tazpod import __version__
    from tests.support.trusting import approve

    from .test_container_spec import _engine_socket
    from .test_startup_imports import LAUNCHER, _container_name, _imported, _loaded

    project = tmp_path / "proj"
    project.mkdir()
    init = subprocess.run([str(LAUNCHER), "init", "base"], cwd=project, capture_output=True)
    assert init.returncode == 0, init.stderr
    approve(project)
    name = _container_name(project)
    labels = {
        "dev.tazpod.managed": "true",
        "dev.tazpod.project": str(project),
        "dev.tazpod.version": __version__,
    }

    def state(status: str) -> bytes:
        body = json.dumps(
            {
                "Id": "84ed923955b1f61a13dc4a223d3f86863cfb77c9609446c5d26c4f27633fe300",
                "Name": f"/{name}",
                "State": {"Status": status, "Pid": os.getpid() if status == "running" else 0},
                "Config": {"Image": f"tazpod-base:{__version__}", "Labels": labels},
            }
        ).encode()
        length = f"Content-Length: {len(body)}\r\n\r\n".encode()
        return b"HTTP/1.0 200 OK\r\n" + _HEAD + length + body

    replies = {
        f"/containers/{name}/json": [ABSENT, ABSENT, state("created"), state("running")],
        f"/images/tazpod-base:{__version__}/json": [IMAGE],
        f"/containers/create?name={name}": [CREATED],
        f"/containers/{name}/start": [STARTED],
    }
    socket_path, seen = _engine_socket(tmp_path, replies)
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    modules, out = _imported(["up"], env, project)
    assert f"{name}: created and started" in out, out
    create = next(r for r in seen if r.startswith(b"POST /containers/create"))
    assert b"Content-Type: application/json" in create
    # (this first run parses config.yaml: YAML is not what this pins)
    assert _loaded(modules, ("docker", "requests", "urllib3", "http", "argparse")) == []
