"""Who the container's root and user are on the host: its user namespace, as the kernel says.

Docker's default gives the container no user namespace: its root is the host's root (the
capabilities and seccomp profile are then all that keep it in). An engine that remaps
users (Docker's `userns-remap`, Podman's `--userns`) makes container root an unprivileged
host uid. The workspace is then the host user's only if the container's user maps to
the workspace's owner, which Docker does when the remap user's subordinate ranges pass
that one uid through; `up` checks it and says which lines make it so.

The map is read from the host's /proc where the container's first process is visible
(the kernel shows it in the reader's ids: host ids), else in the container
(`/proc/self/uid_map` of a root exec, relative to the container's parent namespace).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tazpod.engines.base import ContainerInfo
from tazpod.errors import EngineError

Ranges = tuple[tuple[int, int, int], ...]  # (inside, outside, count) rows of a uid_map
_SCRIPT = (
    "/bin/cat /proc/self/uid_map; echo --; /bin/cat /proc/self/gid_map; echo --;"
    " /bin/cat /etc/passwd"
)


def parse_ranges(text: str) -> Ranges:
    rows = []
    for line in text.splitlines():
        if line.strip():
            inside, outside, count = (int(field) for field in line.split())
            rows.append((inside, outside, count))
    return tuple(rows)


def to_host(ranges: Ranges, inside: int) -> int | None:
    for start, outside, count in ranges:
        if start <= inside < start + count:
            return outside + inside - start
    return None


def is_identity(ranges: Ranges) -> bool:
    return all(inside == outside for inside, outside, _count in ranges) and bool(ranges)


@dataclass(frozen=True)
class UserMap:
    uids: Ranges
    gids: Ranges
    user: str
    uid: int | None = None  # the user's, inside the container (read only when remapped)
    gid: int | None = None

    @property
    def remapped(self) -> bool:
        return not is_identity(self.uids)

    def describe(self) -> str:
        if not self.remapped:
            return "none: container root is host root (the engine maps no users)"
        root = to_host(self.uids, 0)
        user = None if self.uid is None else to_host(self.uids, self.uid)
        shown = "unmapped" if user is None else f"host uid {user}"
        return f"container root is host uid {root}; {self.user} (uid {self.uid}) is {shown}"

    def workspace_problem(self, owner_uid: int, owner_gid: int) -> str | None:
        """Why the container's user cannot own the workspace, or None when it does."""
        if not self.remapped or self.uid is None or self.gid is None:
            return None
        uid, gid = to_host(self.uids, self.uid), to_host(self.gids, self.gid)
        if uid == owner_uid and gid == owner_gid:
            return None
        shown = "no host uid" if uid is None else f"host uid {uid}"
        return (
            f"the engine remaps users: in the container, {self.user} (uid {self.uid}) is"
            f" {shown}, but the workspace belongs to host uid {owner_uid}; the container's"
            " user could not write the project or its vault"
        )

    def subordinate_lines(self, owner_uid: int) -> list[str]:
        """/etc/subuid lines for Docker's remap user that pass the owner's uid through."""
        return _split_lines(self.uids, self.uid or 0, owner_uid)

    def subordinate_gid_lines(self, owner_gid: int) -> list[str]:
        """The same for /etc/subgid, split around the user's gid."""
        return _split_lines(self.gids, self.gid or 0, owner_gid)


def _split_lines(ranges: Ranges, inside: int, owner: int) -> list[str]:
    """Docker maps its remap user's ranges in the order the file lists them: the first
    range is split around ``inside``, which maps to ``owner``."""
    (_start, outside, count), *_rest = ranges
    tail = max(count - inside - 1, 0)
    lines = [f"dockremap:{outside}:{inside}", f"dockremap:{owner}:1"]
    if tail:
        lines.append(f"dockremap:{outside + inside + 1}:{tail}")
    return lines


def parse(output: str, user: str) -> UserMap:
    parts = output.split("--\n")
    if len(parts) != 3:
        raise EngineError("cannot read the container's user namespace (unexpected output)")
    uids, gids = parse_ranges(parts[0]), parse_ranges(parts[1])
    for line in parts[2].splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user:
            return UserMap(uids, gids, user, int(fields[2]), int(fields[3]))
    raise EngineError(
        f"the container has no user {user!r}",
        hint="set `user:` in .tazpod/config.yaml to the image's user",
    )


class _Execs(Protocol):
    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]: ...


def of(engine: _Execs, info: ContainerInfo, user: str) -> UserMap:
    """The running container's map, in host ids.

    The host's /proc gives it when the container's first process is visible there (an
    identity map needs nothing more: the common case, no exec). Otherwise, or to learn the
    user's ids, the container is asked; its own uid_map is relative to its parent
    namespace, which under rootless Podman is the user's namespace, not the host's: the
    host's view replaces it wherever there is one."""
    from tazpod.sysio import procfs

    maps = procfs.id_maps(info.pid) if info.pid > 0 else None
    if maps is None:
        return read(engine, info.name, user)
    uids, gids = parse_ranges(maps[0]), parse_ranges(maps[1])
    if is_identity(uids) and is_identity(gids):
        return UserMap(uids, gids, user)
    inside = read(engine, info.name, user)
    return UserMap(uids, gids, user, inside.uid, inside.gid)


def read(engine: _Execs, name: str, user: str) -> UserMap:
    """Ask the running container (a root exec, programs by absolute path) for its maps."""
    from tazpod.sysio.environ import Inherit, child_env
    from tazpod.sysio.run import CannotRun, run

    argv = engine.exec_argv(name, ["/bin/sh", "-c", _SCRIPT], "0", False, None)
    try:
        # The user's own engine client (DOCKER_HOST, CONTAINER_HOST are the user's).
        done = run(argv, env=child_env(inherit=Inherit.EVERYTHING), check=False, timeout=60)
    except CannotRun as err:
        raise EngineError(f"cannot ask {name} for its user namespace: {err.reason}") from err
    if done.returncode != 0:
        detail = done.err.strip()[-300:] or f"exit code {done.returncode}"
        raise EngineError(f"cannot read the user namespace of {name}: {detail}")
    return parse(done.out, user)
