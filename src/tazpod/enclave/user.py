"""Who the enclave belongs to: the sudo caller, the container's user, or root."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError, PrivilegeError, UsageError
from tazpod.sysio.environ import in_enclave


@dataclass(frozen=True)
class EnclaveUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: Path
    shell: str

    @property
    def ids(self) -> tuple[int, int]:
        return self.uid, self.gid


def _from_passwd(entry: pwd.struct_passwd) -> EnclaveUser:
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    shell = entry.pw_shell if entry.pw_shell and Path(entry.pw_shell).exists() else "/bin/sh"
    if shell.endswith(("nologin", "false")):
        shell = "/bin/sh"
    return EnclaveUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, Path(entry.pw_dir), shell)


def require_root(action: str) -> None:
    if in_enclave():
        raise UsageError(
            "already inside an enclave",
            hint="enclaves do not nest; use this shell, or `tazpod lock` to end it",
        )
    if os.geteuid() != 0:
        raise PrivilegeError(
            f"{action} needs root to create the enclave's private namespace",
            hint="run it with sudo (the enclave then belongs to you), or from the host with"
            " `tazpod unlock` once the container is up",
        )


def resolve_user(config_user: str, container: bool) -> EnclaveUser:
    """The sudo caller on a host; the configured user in a container; else root."""
    sudo_uid = os.environ.get("SUDO_UID")
    try:
        if sudo_uid and sudo_uid != "0":
            return _from_passwd(pwd.getpwuid(int(sudo_uid)))
        if container:
            return _not_root(_from_passwd(pwd.getpwnam(config_user)), config_user)
    except (KeyError, ValueError) as err:
        who = f"uid {sudo_uid}" if sudo_uid else f"user {config_user!r}"
        raise UsageError(f"{who} has no passwd entry; cannot build its enclave") from err
    return _from_passwd(pwd.getpwuid(os.getuid()))


def _not_root(user: EnclaveUser, config_user: str) -> EnclaveUser:
    if user.uid == 0:
        raise ConfigError(
            f"user: {config_user!r} is uid 0 in this container: the enclave never runs as root",
            hint="set user: to the image's unprivileged user (tazpod's images: tazpod)",
        )
    return user
