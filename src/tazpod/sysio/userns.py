"""User namespaces: identity maps, and a process becoming root of a namespace of its own.

An identity map keeps every id the same number inside as outside, over exactly the
ranges this process's own namespace maps (all 2³²-1 ids on a host or a plain
container; the 65536 of a Podman or userns-remap container), so files keep their
owners. Only a process outside the new namespace with CAP_SETUID/CAP_SETGID there can
write such a map: a helper child writes it for the process that made the namespace.
"""

from __future__ import annotations

import os

from tazpod.sysio import linux


def identity_map(own_map: str) -> str:
    """The identity over the ranges of a /proc/<pid>/uid_map (or gid_map) text."""
    lines = []
    for line in own_map.splitlines():
        fields = line.split()
        if len(fields) == 3:
            inside, _outside, count = fields
            lines.append(f"{inside} {inside} {count}")
    return "\n".join(lines) + "\n"


def identity_maps() -> tuple[str, str]:
    """(uid map, gid map) for a child namespace of the one this process is in."""
    with open("/proc/self/uid_map") as uids, open("/proc/self/gid_map") as gids:
        return identity_map(uids.read()), identity_map(gids.read())


def write_identity_maps(pid: int, maps: tuple[str, str]) -> None:
    """Map ``pid``'s new user namespace (written once, from its parent namespace)."""
    for name, mapping in zip(("uid_map", "gid_map"), maps, strict=True):
        with open(f"/proc/{pid}/{name}", "w") as handle:
            handle.write(mapping)


def become_namespace_root() -> None:
    """unshare(CLONE_NEWUSER) and get an identity map: this process (root) is then root
    of a user namespace it owns, with every capability there and none gained outside.

    Mounts it makes afterwards (a tmpfs, bind mounts, in a mount namespace it unshares
    next) need no CAP_SYS_ADMIN in the namespace it came from.
    """
    maps = identity_maps()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    target = os.getpid()
    helper = os.fork()
    if helper == 0:  # pragma: no cover (a forked child; its work is seen by the parent)
        status = 1
        try:
            os.close(ready_w)
            os.close(done_r)
            if os.read(ready_r, 1) == b"u":
                write_identity_maps(target, maps)
                os.write(done_w, b"m")
                status = 0
        except BaseException as err:  # told to the parent, never raised in a fork
            message = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            os.write(done_w, f"e{type(err).__name__}: {message}".encode()[:500])
        finally:
            os._exit(status)
    os.close(ready_r)
    os.close(done_w)
    try:
        linux.unshare(linux.CLONE_NEWUSER)
        os.write(ready_w, b"u")
        os.close(ready_w)
        ready_w = -1
        reply = b""
        while chunk := os.read(done_r, 500):
            reply += chunk
    finally:
        if ready_w >= 0:
            os.close(ready_w)  # the helper reads EOF and leaves
        os.close(done_r)
        os.waitpid(helper, 0)
    if reply != b"m":
        raise OSError(1, f"cannot map the new user namespace: {reply[1:].decode(errors='replace')}")
