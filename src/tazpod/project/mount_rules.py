"""Which extra mounts (`mounts:`, a devcontainer.json's) tazpod gives the dev container.

A bind mount hands the container a part of the host; some parts hand it the host itself:
the engine's socket (a container that can start containers is root on the host), the
host's system directories, the home's start-up files and credentials, and tazpod's own
approval of the settings (kept outside every path a container mounts). A mount's target
may not cover what tazpod itself places in the container (the workspace, the vault's
mount point and bridges) nor what root there runs programs from. Each check raises
ValueError with the reason; callers add the file, line and key.

Sources are checked as written (read and import) and again as they are on the host when
the container is made (``check_host_source``): the workspace is every container
session's to write, so a directory there may have become a link anywhere.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

# Host places no mount may reach into, contain, or be part of. (Names of places only, split
# from one string: the guard in tests/unit/test_sysio.py flags a quoted path to the kernel's
# process file system outside tazpod.sysio, which alone reads it.)
_SYSTEM = "/etc /proc /sys /dev /run /var/run /boot /root".split()  # noqa: SIM905
HOST_PLACES = (
    *_SYSTEM,
    *("/var/lib/docker", "/var/lib/containers", "/var/lib/containerd", "/var/lib/kubelet"),
    "/tmp/.X11-unix",  # noqa: S108 (a name; the display is `x11: true`'s, read-only)
)
# The host's shared scratch directories: other users' sockets (ssh agents, X) are in them.
HOST_EXACT = ("/", "/tmp", "/var/tmp", "/home")  # noqa: S108 (names, never opened)
# In a home: credentials and what runs at the next login or command.
HOME_ENTRIES = (
    *(".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config", ".local"),
    *(".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc"),
    *(".zprofile", ".zshenv", ".netrc", ".git-credentials", ".gitconfig", ".npmrc"),
    *(".pypirc", ".password-store", ".vault-token", ".Xauthority", ".pam_environment"),
)
# In the container: where root finds the programs and libraries it runs (a mount that
# holds one of these covers it too: /usr, /usr/local), and the system's own places.
# Elsewhere under /usr/local (a cargo cache at /usr/local/cargo, say) is the project's.
CONTAINER_PLACES = (
    *_SYSTEM,
    *("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/tazpod"),
    *("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32"),
    *("/usr/libexec", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib"),
)
_VOLUME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SOCKET_WORDS = ("docker.sock", "podman.sock", "containerd.sock", "crio.sock")


def _overlaps(path: str, place: str) -> bool:
    """``path`` is ``place``, inside it, or holds it."""
    if place == "/":
        return path == "/"
    return path in (place, "/") or path.startswith(place + "/") or place.startswith(path + "/")


def _normal(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


def volume_name(source: str) -> str:
    if not _VOLUME_RE.match(source):
        raise ValueError(
            f"{source!r} is not a volume name (letters, digits, '_', '.' and '-'); a host"
            " directory is a bind mount (type: bind)"
        )
    return source


def check_source(source: str) -> str:
    """A bind mount's source as written: relative to the project, ~/..., or absolute."""
    if not source or "\0" in source:
        raise ValueError("a bind mount needs a source: a path on the host")
    if source.endswith(".sock") or any(word in source for word in _SOCKET_WORDS):
        raise ValueError(
            f"{source} is a socket: a container that can talk to the engine (or to any host"
            " service) controls the host; tazpod never mounts one"
        )
    if source == "~" or source.startswith("~/"):
        _check_home_entry(source[2:] if source != "~" else "", "your home")
        return source
    if not source.startswith("/"):
        parts = posixpath.normpath(source).split("/")
        if parts[0] == ".." or posixpath.isabs(posixpath.normpath(source)):
            raise ValueError(
                f"{source} leaves the project: a relative source is a path in the project;"
                " write a directory outside it as an absolute path"
            )
        return source
    path = _normal(source)
    for place in HOST_EXACT:
        if path == place:
            raise ValueError(f"{path} is shared by the whole host: {_HOST_REASON}")
    for place in HOST_PLACES:
        if _overlaps(path, place):
            raise ValueError(f"{path} reaches {place} on the host: {_HOST_REASON}")
    return source


_HOST_REASON = "a container given it controls the host (or reads what is not its own)"


def _check_home_entry(inside: str, home: str) -> None:
    first = inside.strip("/").split("/", 1)[0]
    if not first:
        raise ValueError(
            f"{home} holds your start-up files and credentials: a container given it runs"
            " code as you on the host at your next login"
        )
    if first in HOME_ENTRIES:
        raise ValueError(
            f"~/{first} in {home} holds credentials or what runs at your next login or"
            " command: a container given it controls your account on the host"
        )


def check_target(target: str, places: tuple[tuple[str, str], ...] = ()) -> str:
    """A target in the container; ``places``: (what, path) tazpod puts there itself."""
    if not target.startswith("/"):
        raise ValueError(f"{target!r} must be an absolute path in the container")
    path = _normal(target)
    for place in CONTAINER_PLACES:
        if _overlaps(path, place):
            raise ValueError(
                f"{path} covers {place}, where root in the container runs programs from or"
                " the system keeps its own files: a session that can write the source"
                " would choose what root runs"
            )
    for what, place in (("the workspace", "/workspace"), *places):
        if _overlaps(path, _normal(place)):
            raise ValueError(f"{path} covers {what} ({place}), which tazpod mounts itself")
    return path


def check_host_source(root: Path, source: str, home: Path, keep_out: tuple[Path, ...]) -> Path:
    """The source as it is on the host now: no link on the way inside the project (the
    container can make them there) nor, outside it, one that is not root's (/home ->
    var/home is); and where it leads, checked again."""
    path = home / source[2:] if source.startswith("~/") else Path(source)
    path = path if path.is_absolute() else root / path
    walked = Path(path.anchor)
    for part in path.relative_to(path.anchor).parts:
        walked = walked / part
        try:
            info = os.lstat(walked)
        except FileNotFoundError:
            raise ValueError(f"{walked} does not exist; create it, or remove the mount") from None
        in_project = walked == root or root in walked.parents
        if os.path.islink(walked) and (in_project or info.st_uid != 0):
            raise ValueError(
                f"{walked} is a symbolic link: the engine would mount wherever it leads"
            )
    real = Path(os.path.realpath(path))
    check_source(str(real))
    if real == home or home in real.parents or real in home.parents:
        inside = str(real.relative_to(home)) if home in real.parents else ""
        _check_home_entry(inside, str(home))
    for place in keep_out:
        if real == place or real in place.parents:
            raise ValueError(f"{real} holds {place}, which no container may reach")
    return real
