"""Starting a process inside the enclave: own user namespace, the user's ids, no privileges.

The child creates a user namespace whose owner is a random, otherwise unused
uid; the parent (root) writes an identity uid/gid map; the child then takes
the user's uid, gid and groups, sets no_new_privs and execs. Result: the
process runs with the user's normal ids (files keep normal ownership) but in
a namespace where any outside process needs CAP_SYS_PTRACE to reach
/proc/<pid>/root, cwd, environ, fd or ptrace — a same-uid process outside is
refused, and so is root without CAP_SYS_PTRACE (it is not the owner).
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from tazpod.enclave.user import EnclaveUser
from tazpod.errors import TazpodError
from tazpod.sysio import linux, procfs
from tazpod.sysio.run import replace_process

IDENTITY_MAP = "0 0 4294967295\n"
_OWNER_LOW = 0x7000_0000
_OWNER_SPAN = 0x7FFF_0000
_RESET_SIGNALS = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGPIPE,
    signal.SIGCHLD,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGXFSZ,
)


def _owner_uid() -> int:
    return _OWNER_LOW + secrets.randbelow(_OWNER_SPAN)


def _child(
    user: EnclaveUser,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    pipes: tuple[int, int, int],
) -> None:
    ready_w, go_r, err_w = pipes
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for signum in _RESET_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        linux.forbid_core_dumps()  # as root, so the user cannot raise the hard limit again
        os.seteuid(_owner_uid())
        linux.raise_effective_caps()  # so the kernel's userns-creation checks see CAP_SYS_ADMIN
        linux.unshare(linux.CLONE_NEWUSER)
        os.write(ready_w, b"u")
        if os.read(go_r, 1) != b"m":
            raise RuntimeError("the enclave supervisor did not map the user namespace")
        os.setgroups(list(user.groups))
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
        linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            os.chdir(cwd)
        except OSError:
            os.chdir(user.home)
        replace_process(argv, env)
    except BaseException as err:  # report, never return into the parent's code
        message = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        os.write(err_w, f"{type(err).__name__}: {message}".encode()[:1000])
    finally:
        os._exit(127)


def spawn(user: EnclaveUser, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    """Start ``argv`` in the enclave as ``user``; returns its pid once exec succeeded."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (ready_r, go_w, err_r):
            os.close(fd)
        os.set_inheritable(err_w, False)
        _child(user, argv, env, cwd, (ready_w, go_r, err_w))
    for fd in (ready_w, go_r, err_w):
        os.close(fd)
    try:
        if os.read(ready_r, 1) == b"u":
            procfs.write_id_maps(pid, IDENTITY_MAP)
            os.write(go_w, b"m")
        os.close(go_w)
        go_w = -1
        report = b""
        while chunk := os.read(err_r, 1000):
            report += chunk
    finally:
        for fd in (ready_r, err_r, go_w):
            if fd >= 0:
                os.close(fd)
    if report:
        os.waitpid(pid, 0)
        raise TazpodError(
            f"cannot start {argv[0]!r} in the enclave: {report.decode(errors='replace')}",
            hint="check that the program exists for the enclave's user",
        )
    return pid
