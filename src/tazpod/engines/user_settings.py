"""The container settings a project adds to tazpod's own (most from a devcontainer.json):
extra mounts, resource limits and the host name.

A bind mount's source is checked again here, as it is on the host when the container is
made (tazpod.project.mount_rules.check_host_source): the workspace is every container
session's to write, and a directory there could have become a link anywhere. No
container of the project runs at that moment (`up` makes it, or removes the stopped
one first), so nothing in one can swap it between the check and the engine's bind.
A pod gets none of these mounts or limits: Kubernetes sets its own (warned).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

from tazpod.engines.base import Mount, Progress
from tazpod.errors import ConfigError
from tazpod.project import mount_rules, validate
from tazpod.project.locate import Project
from tazpod.project.read_container import places
from tazpod.project.schema import MountConfig, ProjectConfig


def invoking_home() -> Path:
    """The home of the user who runs tazpod (under sudo: the caller's, not root's)."""
    sudo_uid = os.environ.get("SUDO_UID")
    uid = int(sudo_uid) if os.geteuid() == 0 and sudo_uid and sudo_uid != "0" else os.getuid()
    return Path(pwd.getpwuid(uid).pw_dir)


def extra_mounts(project: Project, config: ProjectConfig, warn: Progress) -> list[Mount]:
    """`mounts:` as the engine's mounts, each checked on the host as it is now."""
    if not config.mounts:
        return []
    if config.engine == "kubernetes":
        warn(
            f"mounts: {len(config.mounts)} mount(s) in {project.config_path} do not apply to a"
            " pod (Kubernetes mounts volumes, not host paths); skipped"
        )
        return []
    from tazpod.project import trust

    home, held = invoking_home(), places(config.user, config.vault)
    keep_out = (trust.state_dir(),)
    return [_mount(project, entry, home, held, keep_out) for entry in config.mounts]


def _mount(
    project: Project,
    entry: MountConfig,
    home: Path,
    held: tuple[tuple[str, str], ...],
    keep_out: tuple[Path, ...],
) -> Mount:
    where = f"{project.config_path}: mounts: {entry.target}"
    try:
        target = mount_rules.check_target(entry.target, held)
        if entry.type == "volume":
            return Mount(Path(mount_rules.volume_name(entry.source)), target, entry.read_only, True)
        source = mount_rules.check_host_source(project.root, entry.source, home, keep_out)
    except ValueError as err:
        raise ConfigError(
            f"{where}: {err}",
            hint="fix or remove the mount (in devcontainer.json, then `tazpod init"
            " --from-devcontainer`), then `tazpod trust`",
        ) from err
    return Mount(source, target, entry.read_only)


def limits(config: ProjectConfig, warn: Progress) -> dict[str, Any]:
    """ContainerSpec's memory, nano_cpus, shm_size and hostname."""
    chosen = {
        "memory": config.memory,
        "cpus": config.cpus,
        "shm_size": config.shm_size,
        "hostname": config.hostname,
    }
    if config.engine == "kubernetes":
        named = [key for key, value in chosen.items() if value is not None]
        if named:
            warn(
                f"{', '.join(named)}: not applied to a pod; set kubernetes.resources (limits:"
                " cpu, memory) instead"
            )
        return {}
    hostname = config.hostname
    if hostname and config.network == "host":
        # (Docker refuses a host name with the host's network, or ignores it: the
        # container's name is the host's there)
        warn(f"hostname {hostname}: not set with network: host (the container has the host's)")
        hostname = None
    return {
        "memory": None if config.memory is None else validate.size_in_bytes(config.memory),
        "nano_cpus": None if config.cpus is None else int(float(config.cpus) * 1e9),
        "shm_size": None if config.shm_size is None else validate.size_in_bytes(config.shm_size),
        "hostname": hostname,
    }
