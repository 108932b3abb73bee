"""Starting a process inside the enclave: own user namespace, the user's ids, no privileges.

The child, still root, creates a user namespace (root owns it); the parent writes an
identity uid/gid map; the child then takes the user's uid, gid and groups, sets
no_new_privs and execs. Result: the process runs with the user's normal ids (files keep
normal ownership) but in a namespace where any outside process needs CAP_SYS_PTRACE in
it to reach /proc/<pid>/root, cwd, environ, fd or ptrace: a process of the same uid
outside is refused, and so is every other uid but root. Root (the namespace's owner)
can, as it can anyway: it owns the tazpod that builds the enclave (docs/security.md).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from tazpod.enclave.user import EnclaveUser
from tazpod.enclave.view import View, apply
from tazpod.errors import TazpodError
from tazpod.sysio import linux, userns
from tazpod.sysio.run import replace_process

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


def _child(
    user: EnclaveUser,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    pipes: tuple[int, int, int],
    view: View | None,
) -> None:
    ready_w, go_r, err_w = pipes
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for signum in _RESET_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        linux.forbid_core_dumps()  # as root, so the user cannot raise the hard limit again
        if view is not None:
            apply(view)  # its own mount namespace: a grant's view, a private FIFO
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


def spawn(
    user: EnclaveUser,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    view: View | None = None,
) -> int:
    """Start ``argv`` in the enclave as ``user``; returns its pid once exec succeeded."""
    maps = userns.identity_maps()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (ready_r, go_w, err_r):
            os.close(fd)
        os.set_inheritable(err_w, False)
        _child(user, argv, env, cwd, (ready_w, go_r, err_w), view)
    for fd in (ready_w, go_r, err_w):
        os.close(fd)
    try:
        if os.read(ready_r, 1) == b"u":
            userns.write_identity_maps(pid, maps)
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
