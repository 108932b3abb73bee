"""Opening a vault into an enclave and running a shell or a command there.

`enter` is what `tazpod unlock` and `tazpod run` call. If the vault is
already open in an enclave, the caller joins it (same mount namespace, a new
session) after proving the passphrase; otherwise it becomes the enclave's
supervisor.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tazpod.enclave import admission, autolock, control
from tazpod.enclave.command import Scope, prepare
from tazpod.enclave.placement import check_places
from tazpod.enclave.session import EnclaveMounts
from tazpod.enclave.shellstate import ensure_state_dir, shell_argv, write_shell_files
from tazpod.enclave.spawn import spawn
from tazpod.enclave.supervisor import Supervisor
from tazpod.enclave.user import EnclaveUser, require_root, resolve_user
from tazpod.errors import VaultBusyError, VaultError
from tazpod.project import paths, trust
from tazpod.project.config import ProjectConfig
from tazpod.project.locate import Project
from tazpod.secrets import generation
from tazpod.secrets.grants import asked_names
from tazpod.secrets.mappings import SecretsConfig
from tazpod.sysio import environ, linux, procs
from tazpod.sysio.creds import acting_as
from tazpod.vault import unlocking
from tazpod.vault.base import Report, Vault
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import VaultLock
from tazpod.vault.prompts import PassphraseSource

_JOIN_WAIT = 15.0  # seconds a joiner waits for an enclave that is still opening


@dataclass(frozen=True)
class _Opening:
    """Everything that opening (or joining) one enclave needs."""

    request: EnterRequest
    user: EnclaveUser
    vault: Vault
    key: str  # the vault directory's (tazpod.project.paths.vault_key), taken once
    mount_point: Path
    source: PassphraseSource
    report: Report
    on_retry: Callable[[int], None]


class _EnclaveGone(Exception):
    """The enclave ended between the lock check and the join."""


@dataclass(frozen=True)
class EnterRequest:
    project: Project
    config: ProjectConfig
    secrets: SecretsConfig | None
    passphrase: PassphraseSource
    command: Sequence[str] | None  # None: the user's interactive shell
    cwd: Path
    environ: Mapping[str, str]
    only: tuple[str, ...] = ()  # --only, as given (comma-separated names)
    profile: str | None = None  # --profile: a grant set of secrets.yml
    restart: bool = False  # --restart-on-change
    restart_signal: int | None = None  # --signal: sent instead of a restart


def _argv(request: EnterRequest, user: EnclaveUser, mount_point: Path) -> list[str]:
    if request.command:
        return list(request.command)
    return shell_argv(user.shell, mount_point)


def _scope(request: EnterRequest, user: EnclaveUser, mount_point: Path) -> Scope:
    profiles = dict(request.secrets.profiles) if request.secrets else {}
    extra = {}
    if paths.in_container():
        # What the enclave's own tazpod commands compare the shared files with (checked
        # against the host's approval before this enclave was opened); on a host they
        # ask the approval store itself, so `tazpod trust` needs no new enclave.
        extra[environ.APPROVED] = trust.digest(trust.settings_of(request.config, request.secrets))
    return Scope(
        user=user,
        mount_point=mount_point,
        project_root=request.project.root,
        secrets_path=request.project.secrets_path,
        secrets=request.secrets,
        bridges=request.config.vault.bridges,
        asked=asked_names(request.only, request.profile, profiles),
        shell=request.command is None,
        inherited=request.environ,
        extra=extra,
    )


def _starter(request: EnterRequest, scope: Scope, report: Report) -> Callable[[], int]:
    """What starts the command (checked now: a grant naming nothing fails before it runs)."""
    argv = _argv(request, scope.user, scope.mount_point)
    prepared = prepare(scope, report)
    if prepared.grant is not None:
        report(f"granted to this command only: {prepared.grant.label()}")
    if request.restart:
        from tazpod.enclave.restarter import keep

        return lambda: keep(scope, argv, request.cwd, request.restart_signal, report)
    return lambda: spawn(scope.user, argv, prepared.env, request.cwd, prepared.view)


def enter(request: EnterRequest, report: Report, on_retry: Callable[[int], None]) -> int:
    require_root("opening the vault")
    user = resolve_user(request.config.user, paths.in_container())
    source = request.passphrase.resolved()  # as root: the file may be root's
    mount_point = paths.mount_point(request.config.vault.mount_point, user.home)
    ids = (user.uid, user.gid, user.groups)  # the vault's files are the user's
    vault = vault_for(request.config.vault, request.project.vault_dir, ids)
    keep_clear = (request.project.root, vault.directory)
    check_places(user, mount_point, request.config.vault.bridges, keep_clear)
    lock = VaultLock(vault.directory)
    _check_vault_dir(vault.directory, user)
    # One key for the lock and the door, taken once: in a dev container the same for every
    # opening (it serves one project; a copy of the vault's files in a new directory must
    # not open a second enclave), on a host the vault directory's identity.
    key = "container" if paths.in_container() else paths.vault_key(vault.directory)
    if key is None:
        raise VaultError(f"{vault.directory} disappeared while it was being opened")
    opening = _Opening(request, user, vault, key, mount_point, source, report, on_retry)
    roots = admission.opening_lock(key)
    deadline = time.monotonic() + _JOIN_WAIT
    while True:
        if roots.try_acquire():
            # Root's lock first: while an opener holds it, nobody else opens this vault,
            # whatever became of the user's `.lock` (a same-uid process can rename it).
            try:
                with acting_as(user.uid, user.gid, user.groups):
                    acquired = lock.try_acquire()
                if acquired:
                    try:
                        return _supervise(opening)
                    finally:
                        lock.release()
            finally:
                roots.release()
        try:
            return _join(opening)
        except _EnclaveGone:
            # Opening (its door comes once the vault is mounted), closing, or the lock is
            # held by something that is no enclave: wait a little, then say so.
            if time.monotonic() > deadline:
                raise VaultBusyError(
                    f"the vault in {vault.directory} is locked, and no open enclave answers for it",
                    hint="another tazpod command on this vault (a save, `vault passwd`, an"
                    " unlock still waiting for its passphrase) may still be running: try again"
                    " in a moment; if it stays so, see who holds it:"
                    f" fuser -v {vault.directory}/.lock",
                ) from None
            time.sleep(0.2)


def _check_vault_dir(directory: Path, user: EnclaveUser) -> None:
    """The vault's files belong to the enclave's user: say so clearly when they do not."""
    try:
        with acting_as(user.uid, user.gid, user.groups):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # effective_ids: the user's rights (acting_as set the effective ids), not root's
            if not os.access(directory, os.R_OK | os.W_OK | os.X_OK, effective_ids=True):
                raise PermissionError(13, "not writable", str(directory))
    except PermissionError as err:
        owner = directory.stat().st_uid if directory.exists() else None
        raise VaultError(
            f"{directory} is not writable by {user.name} (uid {user.uid})"
            + (f"; it belongs to uid {owner}" if owner is not None else ""),
            hint=f"give it to the enclave's user: chown -R {user.uid}:{user.gid} {directory}",
        ) from err


def _supervise(ctx: _Opening) -> int:
    request, user, vault, mount_point = ctx.request, ctx.user, ctx.vault, ctx.mount_point
    store = unlocking.open_or_create(vault, ctx.source, ctx.report, ctx.on_retry)
    enclave = EnclaveMounts(user, store, mount_point, request.config.vault.bridges, ctx.report)
    door = None
    try:
        enclave.open()
        enclave.connect_bridges()
        with enclave.as_user():
            write_shell_files(enclave.root)
            generation.bump(enclave.root)  # the enclave's first: every shell starts from one
            if request.command is None:
                ensure_state_dir(enclave.root)
        start = _starter(request, _scope(request, user, mount_point), ctx.report)
        door = admission.open_door(ctx.key)
        vault_config = request.config.vault
        limits = autolock.Limits(vault_config.idle_lock, vault_config.max_open)
        return Supervisor(enclave, start, door, limits).run()
    finally:
        if door is not None:
            admission.close_door(door, ctx.key)
        for problem in enclave.close():
            ctx.report(f"could not unmount {problem}")


def _enter_namespaces(ctx: _Opening) -> None:
    """Through the open enclave's door: its namespaces, once the passphrase is proven.

    _EnclaveGone when no enclave answers (it was closing, or its supervisor died and
    the lock is someone else's now: that is never joined).
    """
    vault, user = ctx.vault, ctx.user
    conn = admission.knock(admission.door_path(ctx.key))
    if conn is None:
        raise _EnclaveGone
    with conn:
        reply, fds = admission.ask(conn, "namespaces")
    try:  # holding the descriptors keeps the namespaces alive while we prove the passphrase
        if not reply.get("ok") or not fds:
            raise VaultBusyError(str(reply.get("message", "the enclave refused to be joined")))
        if reply.get("uid") != user.uid:
            raise VaultBusyError("the vault is open in another user's enclave")
        unlocking.prove(vault, ctx.source, ctx.on_retry)  # joining needs the passphrase too
        *user_ns, mount_ns = fds
        for fd in user_ns:
            linux.setns(fd, linux.CLONE_NEWUSER)
        linux.setns(mount_ns, linux.CLONE_NEWNS)
    finally:
        for fd in fds:
            os.close(fd)


def _join(ctx: _Opening) -> int:
    request, user, mount_point, report = ctx.request, ctx.user, ctx.mount_point, ctx.report
    _enter_namespaces(ctx)
    os.chdir("/")
    linux.prctl(procs.PR_SET_CHILD_SUBREAPER, 1)
    try:
        conn = control.connect(mount_point)
    except VaultError as err:
        raise _EnclaveGone from err
    with conn:
        control.send_line(conn, {"op": "join"})
        reply = control.recv_line(conn)
        if not reply or not reply.get("ok"):
            raise _EnclaveGone
        report(f"joined the open enclave at {mount_point}")
        if request.command is None:
            with acting_as(user.uid, user.gid, user.groups):
                ensure_state_dir(mount_point)
        start = _starter(request, _scope(request, user, mount_point), report)
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        child = start()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda sig, _frame: os.kill(child, sig))
        status = _wait_for(child)
        procs.terminate([os.getpid()])
    return procs.exit_code(status)


def _wait_for(pid: int) -> int:
    while True:
        try:
            _pid, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:
            continue
