"""The project's dev container: its description, image, and lifecycle (up, down, build).

Least privilege: Docker's default capabilities minus NET_RAW and MKNOD, no new
privileges (no setuid escalation), and tazpod's seccomp profile
(tazpod.engines.seccomp), which lets root build the ram vault's enclave in a user
namespace of its own: the container holds no CAP_SYS_ADMIN. `privileged` only on
explicit opt-in. The luks backend adds exactly what dm-crypt on a loop device needs:
CAP_SYS_ADMIN (the mapping and the ext4 mount are the host kernel's, not a user
namespace's), the loop-control and device-mapper control nodes, device-cgroup rules for
loop and device-mapper block devices, and MKNOD to create their nodes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from tazpod import __version__
from tazpod.engines import seccomp
from tazpod.engines.base import (
    LABEL_MANAGED,
    LABEL_PROJECT,
    LABEL_VERSION,
    ContainerInfo,
    ContainerSpec,
    Engine,
    Mount,
    Progress,
)
from tazpod.errors import ConfigError, EngineError
from tazpod.project.config import ProjectConfig
from tazpod.project.locate import Project
from tazpod.project.paths import expand_home
from tazpod.sysio.environ import CONTAINER as CONTAINER_MARKER

if TYPE_CHECKING:
    from tazpod.engines.usermap import UserMap

PYTHONS = ("3.11", "3.12", "3.13")  # Debian 12, Ubuntu 24.04, Debian 13
WORKSPACE = "/workspace"
X11_SOCKETS = Path("/tmp/.X11-unix")  # noqa: S108 (X11's fixed socket directory)


def _x11(
    home: str, environ: Mapping[str, str], warn: Progress
) -> tuple[list[Mount], dict[str, str]]:
    display = environ.get("DISPLAY")
    socket_dir = X11_SOCKETS
    if not display or not socket_dir.is_dir():
        warn("x11: true, but this host has no X display (DISPLAY, /tmp/.X11-unix); skipped")
        return [], {}
    mounts = [Mount(socket_dir, str(socket_dir), read_only=True)]
    env = {"DISPLAY": display}
    authority = environ.get("XAUTHORITY")
    if authority and Path(authority).is_file():
        mounts.append(Mount(Path(authority), f"{home}/.Xauthority", read_only=True))
        env["XAUTHORITY"] = f"{home}/.Xauthority"
    return mounts, env


def luks_devices(
    proc_devices: Path | None = None, control: Path = Path("/dev/mapper/control")
) -> tuple[list[str], list[str]]:
    """(devices, device-cgroup rules) for the luks backend, from the host kernel's majors."""
    from tazpod.sysio import procfs

    majors = procfs.device_majors(proc_devices or procfs.PROC_DEVICES)
    if "device-mapper" not in majors or not control.exists():
        raise ConfigError(
            "vault.backend is luks, but this host's kernel has no device-mapper (dm-crypt)",
            hint="load it on the host (`modprobe dm_crypt`), or use vault.backend: ram",
        )
    devices = ["/dev/loop-control", "/dev/mapper/control"]
    rules = [f"b {majors.get('loop', 7)}:* rmw", f"b {majors['device-mapper']}:* rmw"]
    return devices, rules


def spec_for(
    project: Project,
    config: ProjectConfig,
    environ: Mapping[str, str] | None = None,
    warn: Progress = lambda _message: None,
    approved: str | None = None,
) -> ContainerSpec:
    home = f"/home/{config.user}"
    gemini = project.root / ".gemini"
    mounts = [Mount(project.root, WORKSPACE)]
    # A real directory only: a symlink there (the container can make one) would have the
    # engine bind its target, anywhere on the host, into the container.
    if gemini.is_dir() and not gemini.is_symlink():
        mounts.append(Mount(gemini, f"{home}/.gemini"))
    if config.mounts:  # (the module only where there is something to check: `up`'s time)
        from tazpod.engines.user_settings import extra_mounts

        mounts += extra_mounts(project, config, warn)
    # The project's variables first: tazpod's marker (and the display's) are never overridden.
    environment = {**config.environment, CONTAINER_MARKER: "1"}
    if config.x11:
        x_mounts, x_env = _x11(home, os.environ if environ is None else environ, warn)
        mounts += x_mounts
        environment.update(x_env)
    from tazpod.vault.factory import needs_block_devices  # not on `tazpod exec`'s path

    devices: list[str] = []
    rules: list[str] = []
    added: tuple[str, ...] = ()
    dropped = ["NET_RAW", "MKNOD"]
    if needs_block_devices(config.vault) and not config.privileged:
        if config.engine == "kubernetes":
            raise ConfigError(
                "vault.backend luks on Kubernetes needs privileged: true (a pod cannot be"
                " granted single loop and device-mapper devices)",
                hint="use vault.backend: ram, or opt in with privileged: true",
            )
        devices, rules = luks_devices()
        added = ("SYS_ADMIN",)  # the opt-in's risk: docs/security.md, "The luks backend"
        dropped.remove("MKNOD")  # loop and dm nodes are made in the container's own /dev
    if config.engine == "kubernetes" and not config.kubernetes.seccomp_profile:
        # Without tazpod's profile on the node (kubernetes.seccomp_profile, a Localhost
        # profile), the runtime's default profile allows the enclave's unshare and mount
        # only to a pod holding CAP_SYS_ADMIN: the weaker default, stated in the docs.
        added = ("SYS_ADMIN",)
    # (a bind mount holds its path as well; a pod gets none of these mounts)
    bound = set() if config.engine == "kubernetes" else {mount.target for mount in mounts}
    places = [("vault.mount_point", config.vault.mount_point or "~/secrets")]
    places += [("vault.bridges", bridge) for bridge in config.vault.bridges]
    anchors = []
    for key, written in places:
        path = expand_home(written, Path(home))
        if path.parent != Path(home):
            raise ConfigError(
                f"{key} {written}: in a dev container the vault's mount point and each bridge"
                f" must be a directory right in the home ({home}/NAME): one below another"
                " directory of the user's could be moved away, with what is mounted on it,"
                " from under an open enclave",
                hint="use a directory right in the home, e.g. ~/secrets; a tool that keeps"
                " its state deeper (~/.config/gh) can be pointed into the vault instead"
                " (GH_CONFIG_DIR=$TAZPOD_VAULT/gh)",
            )
        if str(path) not in bound:
            anchors.append(str(path))
    security = ["no-new-privileges:true"]
    if Path("/sys/kernel/security/apparmor").exists():
        security.append("apparmor=unconfined")  # docker-default forbids mount(2)
    return ContainerSpec(
        name=config.container_name,
        image=config.image,
        labels={
            LABEL_MANAGED: "true",
            LABEL_PROJECT: str(project.root),
            LABEL_VERSION: __version__,
        },
        mounts=mounts,
        environment=environment,
        network=config.network,
        cap_add=() if config.privileged else added,
        cap_drop=() if config.privileged else tuple(dropped),
        devices=devices,
        device_cgroup_rules=rules,
        security_opt=() if config.privileged else tuple(security),
        privileged=config.privileged,
        ulimits=config.ulimits,
        seccomp=None if config.privileged else seccomp.profile_json(),
        anchors=tuple(dict.fromkeys(anchors)),
        command=first_process(config.user, approved),
        **_limits(config, warn),
    )


def _limits(config: ProjectConfig, warn: Progress) -> dict[str, Any]:
    if (config.memory, config.cpus, config.shm_size, config.hostname) == (None,) * 4:
        return {}  # the spec's defaults: no module to import for nothing (`up`'s time)
    from tazpod.engines.user_settings import limits

    return limits(config, warn)


# The container's first process: tazpod's own init and opener (tazpod.enclave.init) where
# the image has tazpod, else a process that only waits (as `sleep infinity` did).
_FIRST = (
    'if [ -x /opt/tazpod/bin/python ]; then exec /opt/tazpod/bin/python -I -m tazpod "$@"; fi;'
    " PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH; exec sleep infinity"
)


def first_process(user: str, approved: str | None) -> tuple[str, ...]:
    if approved is None:
        return ("sleep", "infinity")
    from tazpod.project.trust import APPROVED_OPTION

    return (
        "/bin/sh",
        "-c",
        _FIRST,
        "tazpod-init",
        APPROVED_OPTION + approved,
        "container-init",
        "--user",
        user,
    )


@dataclass(frozen=True)
class UpResult:
    info: ContainerInfo
    action: str  # created, running, recreated, replaced


def check_owned(info: ContainerInfo, project: Project) -> None:
    if not info.managed:
        raise EngineError(
            f"a container named {info.name} exists and was not made by tazpod",
            hint="rename or remove it, or change container_name in .tazpod/config.yaml",
        )
    if info.project != str(project.root):
        raise EngineError(
            f"container {info.name} belongs to another tazpod project ({info.project})",
            hint="give this project its own container_name (`tazpod init --force` makes one)",
        )


def up(
    engine: Engine,
    project: Project,
    config: ProjectConfig,
    progress: Progress,
    replace: bool = False,
    approved: str | None = None,
) -> UpResult:
    existing = engine.find(config.container_name)
    if existing is not None:
        check_owned(existing, project)
        stale = existing.version != __version__
        if stale and not replace:
            raise EngineError(
                f"container {existing.name} runs tazpod {existing.version}, this is {__version__}",
                hint="`tazpod up --replace` recreates it (the workspace and vault are kept)",
            )
        if not replace and existing.state == "running":
            return UpResult(existing, "running")
        # A stopped container holds nothing (workspace and vault are on the host):
        # recreate it, so that configuration changes take effect. What the new one needs
        # approved is checked first: a refusal then leaves the old one where it was.
        _check_build_approval(engine, project, config)
        engine.remove(existing.name)
    if not engine.image_exists(config.image):
        if config.vertical is None and config.build is None:
            engine.pull(config.image, progress)  # a ready-made image (e.g. TazPod's)
        else:
            from tazpod.images.stack import build_image

            build_image(engine, project, config, progress)
    if config.devcontainer_features:  # (the local Features' image, built on that one)
        from tazpod.images.features import with_features

        config = dataclasses.replace(config, image=with_features(engine, project, config, progress))
    spec = spec_for(project, config, warn=progress, approved=approved)
    started = _create_started(engine, spec, progress)
    if engine.name != "kubernetes":  # (a pod's workspace is a volume of its own)
        mismatch = _workspace_mismatch(engine, started, project, config)
        moved = mismatch is not None and mismatch.ids != spec.user_ids
        if mismatch is not None and moved and getattr(engine, "rootless", False):
            # A rootless engine maps the user to the ids the spec names: the image's user
            # has others (read from the container just made), so make it again with those.
            engine.remove(started.name)
            spec = dataclasses.replace(spec, user_ids=mismatch.ids)
            started = _create_started(engine, spec, progress)
            mismatch = _workspace_mismatch(engine, started, project, config)
        if mismatch is not None:
            _refuse_workspace(engine, started, mismatch)
    action = "created" if existing is None else ("replaced" if replace else "recreated")
    return UpResult(started, action)


def _check_build_approval(engine: Engine, project: Project, config: ProjectConfig) -> None:
    """Refuse now (UntrustedConfigError) when the image the new container needs would be
    built from files of the project's that are not the approved ones."""
    from tazpod.project import build_files

    features = bool(config.devcontainer_features) and engine.name != "kubernetes"
    built = build_files.custom(config.build) and not engine.image_exists(config.image)
    if features or built:
        from tazpod.images.stack import approved_build_files

        approved_build_files(project, config)


def _create_started(engine: Engine, spec: ContainerSpec, progress: Progress) -> ContainerInfo:
    info = engine.create(spec)
    try:
        engine.start(info.name, progress)
    except EngineError:
        # What this up made holds nothing (the workspace and vault are the host's, or in a
        # volume that existed before): remove it rather than leave it failing.
        engine.remove(info.name, purge=bool(getattr(engine, "created_claim", False)))
        raise
    return engine.find(info.name) or info


@dataclass(frozen=True)
class _Mismatch:
    """The container's user is not the workspace's owner on the host."""

    found: UserMap
    problem: str
    owner_uid: int
    owner_gid: int

    @property
    def ids(self) -> tuple[int, int]:
        """The container user's ids, as read from the container."""
        return self.found.uid or 0, self.found.gid or 0


def _workspace_mismatch(
    engine: Engine, info: ContainerInfo, project: Project, config: ProjectConfig
) -> _Mismatch | None:
    """Where the engine remaps users, the container's user must be the workspace's owner:
    what is wrong when it is not, None when it is."""
    from tazpod.engines import usermap

    try:
        found = usermap.of(engine, info, config.user)
    except EngineError:
        engine.remove(info.name)  # it holds nothing: the workspace and vault are the host's
        raise
    owner = project.root.stat()
    problem = found.workspace_problem(owner.st_uid, owner.st_gid)
    return None if problem is None else _Mismatch(found, problem, owner.st_uid, owner.st_gid)


def _refuse_workspace(engine: Engine, info: ContainerInfo, mismatch: _Mismatch) -> NoReturn:
    engine.remove(info.name)  # it holds nothing: the workspace and vault are the host's
    if engine.name == "docker":
        uids = mismatch.found.subordinate_lines(mismatch.owner_uid)
        gids = mismatch.found.subordinate_gid_lines(mismatch.owner_gid)
        hint = (
            "pass the owner's ids through the remap: list the remap user's ranges (dockremap"
            f" for userns-remap `default`) in this order, in /etc/subuid: {'; '.join(uids)}"
            f" and in /etc/subgid: {'; '.join(gids)}; then restart dockerd and run"
            " `tazpod up` again"
        )
    elif getattr(engine, "rootless", False):
        hint = (
            "run `tazpod up` as the workspace's owner (rootless Podman maps the user who"
            " runs it to the container's user), or give the workspace to that user"
        )
    else:
        hint = "run this project's container without a user namespace that moves its user"
    raise EngineError(f"{mismatch.problem}; the container was removed", hint=hint)


class _Finder(Protocol):
    def find(self, name: str) -> ContainerInfo | None: ...


def require_running(engine: _Finder, project: Project, config: ProjectConfig) -> ContainerInfo:
    info = engine.find(config.container_name)
    if info is None:
        raise EngineError(
            f"the project's container {config.container_name} does not exist",
            hint="start it with `tazpod up`",
        )
    check_owned(info, project)
    if info.state != "running":
        raise EngineError(
            f"the project's container {info.name} is {info.state}", hint="run `tazpod up`"
        )
    return info
