"""`tazpod ssh-config`: a `Host` entry per project, in files of tazpod's own.

Each project's entry is its own file, `~/.ssh/tazpod/<container>.conf`; the user's
`~/.ssh/config` gets one `Include` block (the entries' absolute path) at its top (an Include below a
`Host` line would apply only to that host), and nothing of the user's own lines is ever
rewritten: `--remove` takes the project's file away and, with the last one, exactly the
block tazpod added, so the user's file is again what it was, byte for byte. ssh reads
`~` as the passwd entry's home, and so does this module.
"""

from __future__ import annotations

import os
import pwd
import shlex
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.sysio.files import make_private_dir, write_atomic

ENTRIES = "tazpod"  # ~/.ssh/tazpod/
_INCLUDE_COMMENT = (
    "# tazpod: the dev containers' ssh entries (`tazpod ssh-config --remove` takes this out)"
)
_CREATED = ".created-config"  # tazpod made ~/.ssh/config: --remove may delete it again


@dataclass(frozen=True)
class Entry:
    alias: str
    project: Path
    container: str
    user: str
    proxy: list[str]  # the ProxyCommand's argv
    identity: Path
    known_hosts: Path
    agent: bool
    forwards: tuple[int, ...] = ()


def ssh_dir() -> Path:
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".ssh"


def _quoted(path: Path) -> str:
    """A path as ssh_config reads it: in double quotes, `%` doubled (its tokens)."""
    text = str(path)
    if '"' in text or "\n" in text:
        raise ConfigError(f"{text}: ssh_config cannot name a path holding quotes or newlines")
    return '"' + text.replace("%", "%%") + '"'


def render(entry: Entry) -> str:
    proxy = " ".join(shlex.quote(arg) for arg in entry.proxy).replace("%", "%%")
    lines = [
        f"# tazpod: project {entry.project} (container {entry.container});"
        " written by `tazpod ssh-config`, replaced each time it runs",
        f"Host {entry.alias}",
        f"  HostName {entry.alias}",
        f"  User {entry.user}",
        f"  ProxyCommand {proxy}",
        f"  IdentityFile {_quoted(entry.identity)}",
        "  IdentitiesOnly yes",
        f"  HostKeyAlias {entry.alias}",
        f"  UserKnownHostsFile {_quoted(entry.known_hosts)}",
        "  StrictHostKeyChecking yes",
        "  CheckHostIP no",
        f"  ForwardAgent {'yes' if entry.agent else 'no'}",
        "  ForwardX11 no",
    ]
    lines += [f"  LocalForward {port} localhost:{port}" for port in entry.forwards]
    return "\n".join(lines) + "\n"


def entries_dir(base: Path | None = None) -> Path:
    return (base or ssh_dir()) / ENTRIES


def entry_path(container: str, base: Path | None = None) -> Path:
    return entries_dir(base) / f"{container}.conf"


def alias_taken(alias: str, container: str, base: Path | None = None) -> bool:
    """Whether another project's entry already answers to ``alias``."""
    directory = entries_dir(base)
    if not directory.is_dir():
        return False
    for other in directory.glob("*.conf"):
        if other.name == f"{container}.conf":
            continue
        if any(
            line.split()[1:2] == [alias]
            for line in other.read_text().splitlines()
            if line.startswith("Host ")
        ):
            return True
    return False


def include_block(base: Path) -> str:
    return f"{_INCLUDE_COMMENT}\nInclude {_quoted(entries_dir(base))}/*.conf\n"


def _config_file(base: Path) -> Path:
    """~/.ssh/config, or what it links to (a dotfiles manager's link stays a link)."""
    path = base / "config"
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def install(entry: Entry, base: Path | None = None) -> Path:
    """Write the project's entry and make sure ~/.ssh/config includes the entries."""
    base = base or ssh_dir()
    make_private_dir(base)
    make_private_dir(entries_dir(base))
    path = entry_path(entry.container, base)
    write_atomic(path, render(entry).encode(), mode=0o600)
    _add_include(base)
    return path


def _add_include(base: Path) -> None:
    config = _config_file(base)
    try:
        text = config.read_text()
        info = os.stat(config)
        mode = info.st_mode & 0o777
    except FileNotFoundError:
        text, mode = "", 0o600
        write_atomic(entries_dir(base) / _CREATED, b"", mode=0o600)
    block = include_block(base)
    if block in text:
        return
    added = block + ("\n" if text else "")
    write_atomic(config, (added + text).encode(), mode=mode)


def remove(container: str, base: Path | None = None) -> bool:
    """Take the project's entry away (and, with the last one, the Include block); whether
    there was one."""
    base = base or ssh_dir()
    path = entry_path(container, base)
    existed = path.exists()
    path.unlink(missing_ok=True)
    directory = entries_dir(base)
    if directory.is_dir() and not any(directory.glob("*.conf")):
        _drop_include(base, created=(directory / _CREATED).exists())
        (directory / _CREATED).unlink(missing_ok=True)
        if not any(directory.iterdir()):
            directory.rmdir()
    return existed


def _drop_include(base: Path, created: bool) -> None:
    config = _config_file(base)
    try:
        text = config.read_text()
        mode = os.stat(config).st_mode & 0o777
    except FileNotFoundError:
        return
    block = include_block(base)
    start = text.find(block)
    if start < 0 or (start and text[start - 1] != "\n"):
        return
    end = start + len(block)
    if text[end : end + 1] == "\n" and end + 1 < len(text):
        end += 1  # the blank line that separated the block from the user's own lines
    rest = text[:start] + text[end:]
    if not rest and created:
        config.unlink()
        return
    write_atomic(config, rest.encode(), mode=mode)
