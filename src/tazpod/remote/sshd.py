"""Root in the container: OpenSSH's `sshd -i` for one connection that came through the
engine's exec (`tazpod ssh --stdio` on the host), no network port anywhere.

The host sends one line first, on the exec's stdin: a JSON object with the container
user's name, the project's client public key and its host private key (both made on the
host, tazpod.remote.keys). The rest of the stream is the ssh protocol, which `sshd -i`
reads from the same descriptor: the line is read a byte at a time so that nothing of the
protocol is taken. The files sshd needs go to /run/tazpod-ssh, root's and readable by
the user where sshd reads them as the user (authorized keys); the host key is root's
alone. Nothing of this comes from the workspace or the user's home: the user's own
settings cannot widen what sshd allows (no root login, no password, keys only, local
port forwarding only, agent forwarding when the client asks for it).
"""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path
from typing import Any

from tazpod.errors import EngineError, PrivilegeError, UsageError
from tazpod.sysio import procfs, tools
from tazpod.sysio.environ import CONTAINER
from tazpod.sysio.files import write_atomic
from tazpod.sysio.run import replace_process

SSH_DIR = Path("/run/tazpod-ssh")
PRIVSEP_DIR = Path("/run/sshd")  # sshd's own privilege separation directory
HEADER_LIMIT = 65536
# The container's own environment (its pid 1's) that every ssh session gets, as `docker
# exec` gives it: not the ones a login sets itself.
_SESSION_OWN = frozenset({"HOME", "HOSTNAME", "USER", "LOGNAME", "SHELL", "MAIL", "TERM", "PWD"})


def read_header(fd: int = 0) -> dict[str, Any]:
    """The host's line, read without taking a byte of the ssh stream behind it."""
    data = bytearray()
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            raise UsageError("the connection ended before tazpod's ssh header")
        data += byte
        if len(data) > HEADER_LIMIT:
            raise UsageError("tazpod's ssh header is too long")
    try:
        header = json.loads(data)
    except ValueError:
        raise UsageError("tazpod's ssh header is not JSON") from None
    if not isinstance(header, dict):
        raise UsageError("tazpod's ssh header is not an object")
    for key in ("user", "authorized_key", "host_key"):
        if not isinstance(header.get(key), str) or not header[key]:
            raise UsageError(f"tazpod's ssh header has no {key}")
    return header


def _user(name: str) -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise EngineError(f"the container has no user {name!r} to log in as") from None
    if entry.pw_uid == 0:
        raise EngineError(f"user {name!r} is root in this container: ssh never logs in as root")
    return entry


def _root_dir(path: Path, mode: int) -> None:
    """A directory root owns and nobody else may write (made so when missing)."""
    path.mkdir(mode=mode, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise PrivilegeError(
            f"{path} is not a directory of root's", hint=f"remove it as root: rm -rf {path}"
        )
    if info.st_mode & 0o7777 != mode:
        os.chmod(path, mode)


def _one_line(text: str, what: str) -> str:
    if "\n" in text.strip() or "\r" in text:
        raise UsageError(f"tazpod's ssh header: {what} is not one line")
    return text.strip()


def _session_env(environ_file: Path = procfs.FIRST_PROCESS_ENVIRON) -> str:
    """The SetEnv line (sshd takes only the first): the container's environment, as its
    first process has it, and tazpod's container mark."""
    pairs = []
    for name, value in procfs.environ_pairs(environ_file):
        if name in _SESSION_OWN or name == CONTAINER or not name.replace("_", "a").isalnum():
            continue
        if any(char in value for char in '"\\\n\r'):
            continue  # sshd's SetEnv quoting cannot carry it
        pairs.append(f'"{name}={value}"')
    return " ".join(["SetEnv", *pairs, f"{CONTAINER}=1"])


def sshd_config(user: str, environ_file: Path = procfs.FIRST_PROCESS_ENVIRON) -> str:
    lines = [
        "# tazpod: sshd -i for one connection through the engine's exec (tazpod.remote.sshd)",
        _session_env(environ_file),
        f"HostKey {SSH_DIR}/host_ed25519_key",
        f"AuthorizedKeysFile {SSH_DIR}/authorized_keys",
        "AuthorizedKeysCommand none",
        "AuthorizedPrincipalsFile none",
        f"AllowUsers {user}",
        "PermitRootLogin no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "PermitEmptyPasswords no",
        "UsePAM no",
        "StrictModes yes",
        "AllowAgentForwarding yes",
        "AllowTcpForwarding local",
        "AllowStreamLocalForwarding no",
        "GatewayPorts no",
        "X11Forwarding no",
        "PermitTunnel no",
        "PermitUserEnvironment no",
        "PermitUserRC no",
        "PrintMotd no",
        "PrintLastLog no",
        "LogLevel ERROR",
        "PidFile none",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
        "",
    ]
    return "\n".join(lines)


def _unlock_account(entry: pwd.struct_passwd) -> None:
    """sshd without PAM refuses an account whose password field is locked (`!...`, what
    useradd leaves): set it to `*`, a password nothing matches, which is not locked."""
    try:
        shadow = Path("/etc/shadow").read_text()
    except OSError:
        return
    for line in shadow.splitlines():
        fields = line.split(":")
        if fields[0] == entry.pw_name and len(fields) > 1 and fields[1].startswith("!"):
            usermod = tools.tool("usermod", hint="install it (Debian/Ubuntu: passwd)")
            from tazpod.sysio.run import run

            run([usermod, "-p", "*", entry.pw_name], env={"PATH": "/usr/sbin:/usr/bin"})
            return


def prepare(header: dict[str, Any], environ_file: Path = procfs.FIRST_PROCESS_ENVIRON) -> Path:
    """Write what sshd reads for this connection; the path of its config file."""
    entry = _user(str(header["user"]))
    authorized = _one_line(str(header["authorized_key"]), "the authorized key")
    if not authorized.startswith("ssh-ed25519 "):
        raise UsageError("tazpod's ssh header: the authorized key is not an ed25519 key")
    _root_dir(SSH_DIR, 0o755)
    _root_dir(PRIVSEP_DIR, 0o755)
    write_atomic(SSH_DIR / "host_ed25519_key", str(header["host_key"]).encode(), mode=0o600)
    # sshd opens it as the user (it must be readable by them, and written by root alone)
    write_atomic(SSH_DIR / "authorized_keys", (authorized + "\n").encode(), mode=0o644)
    config = SSH_DIR / "sshd_config"
    write_atomic(config, sshd_config(entry.pw_name, environ_file).encode(), mode=0o644)
    _unlock_account(entry)
    return config


def serve() -> None:
    """Read the header, prepare, become `sshd -i` on this process's stdin and stdout."""
    if os.geteuid() != 0:
        raise PrivilegeError(
            "tazpod ssh-serve is root's side of `tazpod ssh --stdio` in the container",
            hint="connect from the host: `ssh tazpod-<project>` after `tazpod ssh-config`",
        )
    header = read_header()
    config = prepare(header)
    sshd = tools.tool(
        "sshd",
        hint="the image needs openssh-server (tazpod's images have it; in a Dockerfile:"
        " apt-get install openssh-server)",
    )
    argv = [sshd, "-i", "-e", "-f", str(config)]
    from tazpod.enclave.env import DEFAULT_PATH

    replace_process(argv, {"PATH": DEFAULT_PATH})
