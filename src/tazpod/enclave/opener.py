"""Root's side in the dev container of `tazpod unlock`/`run`/`lock` typed by its user.

The container's first process (`tazpod container-init`, started with the container by
`tazpod up`, with the digest of the settings approved on the host) listens on
``/run/tazpod-opener.sock``: owned by the container's user, mode 0600, and answered only
for a peer of that uid (SO_PEERCRED). The user's tazpod sends one request, a JSON line,
and with it the descriptors of its stdin, stdout and stderr (and of a passphrase file
it opened, when it was given one) — never a passphrase, never a path root would open.

For each request a child of the opener runs root's own tazpod (the image's, isolated:
`python -I`) with the approved digest, exactly as the host's forwarding does, so the
settings are checked the same way; on the user's terminal it gets a pseudo-terminal of
its own (tazpod.sysio.ptyrelay), so the passphrase is typed to root's tazpod and to
nothing else. When the user's side goes away (its process killed, its terminal closed),
the enclave is hung up: its supervisor saves and closes it, as after a closed terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
from pathlib import Path
from typing import Any

from tazpod.errors import TazpodError, UsageError
from tazpod.sysio.environ import CONTAINER

SOCKET = Path("/run/tazpod-opener.sock")
APPROVED_FILE = Path("/run/tazpod/approved")  # a newer approval, handed in by `tazpod trust`
CONTAINER_TAZPOD = ("/opt/tazpod/bin/python", "-I", "-m", "tazpod")
OPS = ("unlock", "run", "lock")
_HANGUP_WAIT = 300.0  # seconds a hung-up enclave has to save


def listen(user: pwd.struct_passwd) -> socket.socket:
    """The opener's socket, the user's alone."""
    with contextlib.suppress(FileNotFoundError):
        SOCKET.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(SOCKET))
    os.chown(SOCKET, user.pw_uid, user.pw_gid)
    os.chmod(SOCKET, 0o600)
    listener.listen(16)
    return listener


def inner_argv(request: dict[str, Any], passphrase: bool) -> list[str]:
    """Root's tazpod command line for the request, built from the few things it may say:
    never an option root would act on (a path, a setting)."""
    op = request.get("op")
    if op not in OPS:
        raise UsageError(f"the opener does not do {op!r}")
    if op == "lock":
        return ["lock"]
    fd = ["--passphrase-fd", "3"] if passphrase else []
    options = checked_options(op, request.get("options", []))
    if op == "unlock":
        return ["unlock", *options, *fd]
    command = request.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(arg, str) for arg in command)
    ):
        raise UsageError("no command to run")
    # (--sync and --mask also as booleans, as clients before the options list sent them)
    flags = [
        f"--{f}" for f in ("sync", "mask") if request.get(f) is True and f"--{f}" not in options
    ]
    return ["run", *flags, *options, *fd, "--", *command]


# The options of `run` and `unlock` a request may carry: flags, and options whose values
# are names (checked here), never a path or a setting root would act on.
_FLAGS = {"run": ("--sync", "--mask", "--restart-on-change"), "unlock": ()}
_VALUED = {"run": ("--only", "--profile", "--signal"), "unlock": ("--only", "--profile")}


def checked_options(op: str, options: Any) -> list[str]:
    from tazpod.secrets.grants import check_grant_name

    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise UsageError("the request's options are not a list of words")
    checked: list[str] = []
    words = iter(options)
    for word in words:
        if word in _FLAGS.get(op, ()):
            checked.append(word)
            continue
        if word not in _VALUED.get(op, ()):
            raise UsageError(f"the opener does not pass {word!r} to {op}")
        value = next(words, None)
        if value is None:
            raise UsageError(f"{word} needs a value")
        try:
            if word == "--only":
                for name in value.split(","):
                    check_grant_name(name.strip())
            elif not value.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"{value!r} is not a name")
        except ValueError as err:
            raise UsageError(f"{word}: {err}") from None
        checked.append(f"{word}={value}")  # one word: never read as an option of its own
    return checked


def _environment(request: dict[str, Any]) -> dict[str, str]:
    """Root's tazpod's environment: the container's own (this process's), the user's
    terminal type, and where the user was (the enclave's command starts there, as the user)."""
    from tazpod.enclave.env import DEFAULT_PATH

    env = {key: value for key, value in os.environ.items() if not key.startswith("TAZPOD_")}
    env.update({"PATH": DEFAULT_PATH, "HOME": "/root", CONTAINER: "1"})
    term = request.get("term")
    if isinstance(term, str) and term.replace("-", "").replace(".", "").isalnum():
        env["TERM"] = term
    cwd = request.get("cwd")
    if isinstance(cwd, str) and cwd.startswith("/") and "\0" not in cwd:
        env["TAZPOD_WORKDIR"] = cwd
    return env


def keep_approval(digest: str) -> None:
    """As root: the approval the opener acts on from now on (root's alone, /run/tazpod)."""
    from tazpod.enclave.admission import private_runtime_dir
    from tazpod.sysio.files import write_atomic

    private_runtime_dir()
    write_atomic(APPROVED_FILE, digest.encode() + b"\n", mode=0o600)


def approved_digest(started_with: str) -> str:
    try:
        newer = APPROVED_FILE.read_text().strip()
    except OSError:
        return started_with
    return newer if len(newer) == 64 and newer.isalnum() else started_with


def handle(conn: socket.socket, user_uid: int, digest: str) -> None:
    """One request, in a child of the opener: run it, tell the user's side its exit code."""
    from tazpod.sysio import ptyrelay

    conn.settimeout(30)
    from tazpod.enclave.supervisor import peer_uid  # (not on the user's client's path)

    pid, uid = peer_uid(conn)
    if uid != user_uid:
        _reply(conn, {"error": "not this container's user"})
        return
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
    try:
        request = json.loads(data)
        if not isinstance(request, dict) or len(fds) not in (3, 4):
            raise UsageError("the request needs a JSON object and stdin, stdout, stderr")
        from tazpod.project.trust import APPROVED_OPTION

        argv = [*CONTAINER_TAZPOD, APPROVED_OPTION + digest]
        argv += inner_argv(request, passphrase=len(fds) == 4)
    except (ValueError, TazpodError) as err:
        _reply(conn, {"error": str(err)})
        return
    problem = foreign_terminal(pid, fds[:3])
    if problem is not None:
        _reply(conn, {"error": problem})
        for fd in fds:
            os.close(fd)
        return
    conn.settimeout(None)
    env = _environment(request)
    stdin, stdout, stderr, *extra = fds
    terminal = os.isatty(stdin) and os.isatty(stdout)
    if not terminal:
        child = ptyrelay.spawn(argv, env, "/workspace", (stdin, stdout, stderr), extra)
        for fd in fds:
            os.close(fd)
        _reply(conn, {"started": True})
        code = _wait_or_hang_up(conn, child)
    else:
        code = _on_terminal(conn, argv, env, fds)
    _reply(conn, {"exit": code})


def foreign_terminal(pid: int, fds: list[int]) -> str | None:
    """Why a terminal among the request's descriptors is not the requester's to hand over:
    every terminal must be its controlling terminal, with it in the foreground (a same-uid
    process can open another session's terminal and would have root's passphrase prompt
    shown there, and typed there, for its own command). None: none is foreign."""
    from tazpod.sysio import procfs

    own = procfs.terminal_of(pid)
    for fd in fds:
        if not os.isatty(fd):
            continue
        device = os.fstat(fd).st_rdev
        if own is None or (os.major(device), os.minor(device)) != own[:2]:
            return "a terminal that is not your session's own was handed over"
        if own[2] != own[3]:
            return "your tazpod is not in its terminal's foreground"
    return None


def _announce(user_out: int, argv: list[str]) -> None:
    """What root's tazpod runs, on the user's terminal before it asks for the passphrase."""
    inner = argv[len(CONTAINER_TAZPOD) + 1 :]
    line = f"tazpod: root in the container runs `tazpod {' '.join(inner)}` for you\r\n"
    with contextlib.suppress(OSError):
        os.write(user_out, line.encode(errors="replace")[:4096])


def _on_terminal(conn: socket.socket, argv: list[str], env: dict[str, str], fds: list[int]) -> int:
    user_in, user_out = fds[0], fds[1]
    _announce(user_out, argv)
    owner = _hold_terminal(user_in)
    try:
        return _relayed(conn, argv, env, fds)
    finally:
        _release_terminal(owner)


def _relayed(conn: socket.socket, argv: list[str], env: dict[str, str], fds: list[int]) -> int:
    """Root's tazpod on a pty of its own, relayed to the user's terminal; its exit code."""
    from tazpod.sysio import ptyrelay

    user_in, user_out, extra = fds[0], fds[1], fds[3:]
    master, slave = os.openpty()
    ptyrelay.copy_size(user_in, slave)
    child = ptyrelay.spawn(argv, env, "/workspace", (slave, slave, slave), extra, terminal=slave)
    os.close(slave)
    for fd in extra:
        os.close(fd)
    _reply(conn, {"started": True})
    watch = ptyrelay.ChildWatch(child)
    try:
        ended = ptyrelay.relay(
            user_in,
            user_out,
            master,
            conn,
            lambda _data: ptyrelay.copy_size(user_in, master),
            watch.gone,
        )
    except OSError:
        ended = False
    if not ended:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGHUP)
    os.close(master)
    return os.waitstatus_to_exitcode(watch.wait()) % 256


def _hold_terminal(fd: int) -> tuple[int, os.stat_result] | None:
    """The user's terminal is root's (0600) while root's tazpod reads from it: a process of
    the user that had not opened it yet cannot open it now (one that had still can)."""
    try:
        info = os.fstat(fd)
        kept = os.dup(fd)
        os.fchown(kept, 0, -1)
        os.fchmod(kept, 0o600)
    except OSError:
        return None
    return kept, info


def _release_terminal(owner: tuple[int, os.stat_result] | None) -> None:
    if owner is None:
        return
    kept, info = owner
    with contextlib.suppress(OSError):
        os.fchown(kept, info.st_uid, info.st_gid)
        os.fchmod(kept, info.st_mode & 0o7777)
    os.close(kept)


def _wait_or_hang_up(conn: socket.socket, child: int) -> int:
    import select

    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status) % 256
        ready, _, _ = select.select([conn], [], [], 0.5)
        if ready and not conn.recv(4096):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGHUP)
            return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) % 256


def refuse(conn: socket.socket, message: str) -> None:
    _reply(conn, {"error": message})


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")
