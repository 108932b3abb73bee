"""The project's ssh keys, made on the host: the client's (the user's login) and the
container's host key (so the ssh client can pin it across re-creations of the container).

They live in the user's state directory (`~/.local/state/tazpod/ssh/<container>/`), 0600
in a 0700 directory: outside every container mount (the workspace and the bridges are
the container's), and never in the project.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.sysio import tools
from tazpod.sysio.files import make_private_dir


@dataclass(frozen=True)
class ProjectKeys:
    directory: Path

    @property
    def client(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def host(self) -> Path:
        return self.directory / "host_ed25519_key"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def client_public(self) -> str:
        return _public(self.client)

    def host_private(self) -> str:
        return self.host.read_text()

    def host_public(self) -> str:
        return _public(self.host)


def keys_dir(container_name: str) -> Path:
    from tazpod.project.trust import state_dir

    return state_dir() / "ssh" / container_name


def _public(private: Path) -> str:
    text = Path(f"{private}.pub").read_text().split()
    if len(text) < 2:
        raise ConfigError(f"{private}.pub is not an ssh public key", hint=f"remove {private}*")
    return f"{text[0]} {text[1]}"


def _generate(path: Path, comment: str) -> None:
    hint = "install it (Debian/Ubuntu: apt-get install openssh-client)"
    keygen = tools.tool("ssh-keygen", hint=hint)
    from tazpod.sysio.run import run

    for stale in (path, Path(f"{path}.pub")):
        stale.unlink(missing_ok=True)  # a half-made pair from an interrupted run
    run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    os.chmod(path, 0o600)


def ensure(container_name: str) -> ProjectKeys:
    """The project's keys, made on first use; the known_hosts entry pinning its host key."""
    keys = ProjectKeys(keys_dir(container_name))
    make_private_dir(keys.directory)
    for path, comment in ((keys.client, "client"), (keys.host, "host")):
        if not path.is_file() or not Path(f"{path}.pub").is_file():
            _generate(path, f"tazpod {container_name} {comment}")
        info = os.lstat(path)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise ConfigError(
                f"{path} is not yours alone (mode {info.st_mode & 0o777:o})",
                hint=f"remove it (tazpod makes a new one): rm {path} {path}.pub",
            )
    return keys


def known_hosts_line(keys: ProjectKeys, alias: str) -> str:
    return f"{alias} {keys.host_public()}\n"
