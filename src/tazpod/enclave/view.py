"""A command's own view of the enclave: a mount namespace of its own, made before it starts.

Two things need one:

- a grant (`run --only`, `--profile`): the vault's mount point gets a fresh tmpfs over it
  that holds only the granted mapped files (each bound from the vault, so a change the
  command makes to one is the vault's) and the granted secrets' value files, and the
  bridges not granted are unmounted (their home paths show what a session outside the
  enclave sees). The rest of the vault is under that tmpfs, in this namespace only;
- a one-shot FIFO (secrets delivered as `fifo`): a private directory for it, so the
  enclave's other processes never see it.

Applied in the spawned child (tazpod.enclave.spawn) while it is still root of the
enclave's user namespace, before it makes the command's own user namespace: mounts made
there are locked together for the command (a namespace the command makes cannot take the
tmpfs off and look under it). Files in the vault are opened and written with the user's
rights; mounts are made onto descriptors, never onto paths that could be swapped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tazpod.enclave.control import CONTROL_DIR
from tazpod.enclave.opener import SOCKET as OPENER
from tazpod.enclave.shellstate import STATE_DIR, write_shell_files
from tazpod.enclave.user import EnclaveUser
from tazpod.errors import VaultError
from tazpod.secrets.delivery import FIFO_VARIABLE, GRANT_VARIABLE
from tazpod.secrets.value import Secret
from tazpod.secrets.value_files import materialize
from tazpod.sysio import linux
from tazpod.sysio.creds import acting_as, fd_path, open_dir_nofollow
from tazpod.sysio.mounts import is_mount_point

FIFO_DIR = "fifo"  # <vault>/.tazpod/fifo: private to the command that has a FIFO
FIFO_NAME = "env"
VIEW_SIZE = "size=16m,nr_inodes=4096"  # what a granted command can write beside its grants


def fifo_path(mount_point: Path) -> Path:
    return mount_point / CONTROL_DIR / FIFO_DIR / FIFO_NAME


@dataclass(frozen=True)
class View:
    user: EnclaveUser
    mount_point: Path
    granted: bool  # False: the whole vault stays in sight (a FIFO alone needs a view)
    files: tuple[str, ...] = ()  # mapped files bound into the view
    drop_bridges: tuple[Path, ...] = ()  # bridges' home paths to unmount
    writable: tuple[str, ...] = ()  # of ``files``: the ones granted `:rw` (others read-only)
    readonly_bridges: tuple[Path, ...] = ()  # kept bridges not granted `:rw`
    value_files: Mapping[str, Secret] = field(default_factory=dict)
    fifo: bytes | None = None  # the dotenv text the FIFO gives once
    shell: bool = False  # an interactive shell: tazpod's start-up files in the view

    label: str = ""  # the grant's names, as asked

    def environment(self) -> dict[str, str]:
        """What the command's environment gets for this view."""
        env = {FIFO_VARIABLE: str(fifo_path(self.mount_point))} if self.fifo is not None else {}
        if self.granted:
            env[GRANT_VARIABLE] = self.label
        return env


def _as_user(view: View) -> contextlib.AbstractContextManager[None]:
    return acting_as(view.user.uid, view.user.gid, view.user.groups)


def apply(view: View) -> None:
    """In the spawned child, root of the enclave's user namespace: make the view."""
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount("none", "/", None, linux.MS_REC | linux.MS_PRIVATE)
    if view.granted:
        _grant(view)
    if view.fifo is not None:
        _fifo(view, view.fifo)


def _grant(view: View) -> None:
    user = view.user
    with _as_user(view):
        vault = os.open(view.mount_point, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    sources = {}
    try:
        with _as_user(view):
            for name in view.files:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=vault)
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    os.close(fd)
                    raise VaultError(f"{view.mount_point / name} is not a plain file")
                sources[name] = fd
        for home_path in view.drop_bridges:
            # The enclave's bind of a bridge not granted: gone in this namespace only.
            if is_mount_point(str(home_path)):
                linux.umount(str(home_path), linux.UMOUNT_NOFOLLOW | linux.MNT_DETACH)
        options = f"mode=0700,uid={user.uid},gid={user.gid},{VIEW_SIZE}"
        flags = linux.MS_NOSUID | linux.MS_NODEV
        linux.mount("tazpod-view", fd_path(vault), "tmpfs", flags, options)
        with _as_user(view):
            root = Path(view.mount_point)
            control = root / CONTROL_DIR
            for directory in (control, control / "cache", control / "tmp"):
                directory.mkdir(mode=0o700, exist_ok=True)
            if view.shell:
                write_shell_files(root)
                (root / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
            problems = materialize(str(root), view.value_files)
            if problems:
                raise VaultError(problems[0])
            targets = {}
            for name in view.files:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                os.close(os.open(root / name, flags, 0o600))
                targets[name] = os.open(root / name, os.O_PATH | os.O_NOFOLLOW)
        try:
            for name, source in sources.items():
                linux.mount(fd_path(source), fd_path(targets[name]), None, linux.MS_BIND)
                if name not in view.writable:
                    # by its path: the descriptor names the file under the new mount (this
                    # namespace is the child's alone, nothing can change the path meanwhile)
                    _read_only(str(view.mount_point / name))
        finally:
            for fd in targets.values():
                os.close(fd)
        for home_path in view.readonly_bridges:
            if is_mount_point(str(home_path)):
                _read_only(str(home_path))
        _hide_opener(control)
        _private_shared_places(view)
    finally:
        os.close(vault)
        for fd in sources.values():
            os.close(fd)


def _hide_opener(control: Path) -> None:
    """The container's opener (root's: it opens the vault for the user's shells) is not in a
    grant's sight: an empty file is bound over its socket, in this namespace only, so the
    granted command cannot ask root for the whole vault (on the user's terminal, where the
    user would type the passphrase, or with a passphrase file it can read). The binding is
    locked for the command's namespaces, and root's /proc/1/root is out of its reach."""
    if not OPENER.exists():
        return
    stand_in = control / "no-opener"
    with contextlib.suppress(FileExistsError):
        os.close(os.open(stand_in, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400))
    linux.mount(str(stand_in), str(OPENER), None, linux.MS_BIND)
    _read_only(str(OPENER))


SHARED_PLACES = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 (hidden, not used)


def _private_shared_places(view: View) -> None:
    """The places where the user's other processes keep their sockets (tmux's server, an
    IDE's, an agent's: each one a way to have a process outside the grant act for it) are
    empty and the command's own in its namespace: /tmp, /var/tmp, /dev/shm and the user's
    /run/user/<uid>. (Its network namespace stays the container's: a server on localhost
    or an abstract socket is still in reach; docs/security.md says so.)"""
    flags = linux.MS_NOSUID | linux.MS_NODEV
    for place in SHARED_PLACES:
        if os.path.isdir(place) and not os.path.islink(place):
            linux.mount("tazpod-private", place, "tmpfs", flags, "mode=1777,size=64m")
    runtime = f"/run/user/{view.user.uid}"
    if os.path.isdir(runtime) and not os.path.islink(runtime):
        options = f"mode=0700,uid={view.user.uid},gid={view.user.gid},size=16m"
        linux.mount("tazpod-private", runtime, "tmpfs", flags, options)


def _read_only(target: str) -> None:
    """A bind mount made read-only (in a namespace the command cannot undo it from: the flag
    is locked when the mount is copied into the command's less privileged one)."""
    flags = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV
    linux.mount("none", target, None, flags)


def _fifo(view: View, text: bytes) -> None:
    """A FIFO that gives ``text`` to the first reader that opens it, then is gone."""
    path = fifo_path(view.mount_point)
    with _as_user(view):
        path.parent.mkdir(mode=0o700, exist_ok=True)
        directory = open_dir_nofollow(path.parent)
    try:
        if not view.granted:  # the shared vault: a private tmpfs over the FIFO's directory
            options = f"mode=0700,uid={view.user.uid},gid={view.user.gid},size=64k,nr_inodes=16"
            linux.mount("tazpod-fifo", fd_path(directory), "tmpfs", linux.MS_NOSUID, options)
    finally:
        os.close(directory)
    with _as_user(view):
        os.mkfifo(path, 0o600)
    command = os.getpid()  # this child becomes the command when it execs
    pidfd = os.pidfd_open(command)
    middle = os.fork()
    if middle == 0:
        try:
            # Nothing of the spawner's (its pipes to the supervisor above all) stays open.
            os.closerange(3, pidfd)
            os.closerange(pidfd + 1, os.sysconf("SC_OPEN_MAX"))
            if os.fork() == 0:  # the writer: its parent exits now, a subreaper adopts it
                _write_once(view.user, path, text, pidfd)
        finally:
            os._exit(0)
    os.close(pidfd)
    os.waitpid(middle, 0)


def _write_once(user: EnclaveUser, path: Path, text: bytes, command: int) -> None:
    """The FIFO's writer, as the user: wait for a reader (while the command lives), unlink
    the FIFO as soon as one opened it (nobody else can), write, close."""
    code = 0
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        os.setgroups(list(user.groups))
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
        linux.forbid_core_dumps(dumpable=False)
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as err:
                if err.errno != errno.ENXIO:  # ENXIO: no reader yet
                    return
            if select.select([command], [], [], 0.1)[0]:
                return  # the command ended without reading it
        os.unlink(path)
        os.set_blocking(fd, True)
        view = memoryview(text)
        deadline = time.monotonic() + 60
        while view and time.monotonic() < deadline:
            view = view[os.write(fd, view) :]
        os.close(fd)
    except OSError:
        code = 1
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os._exit(code)
