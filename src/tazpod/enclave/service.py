"""Opening a vault into an enclave and running a shell or a command there.

`enter` is what `tazpod unlock` and `tazpod run` call. If the vault is
already open in an enclave, the caller joins it (same mount namespace, a new
session) after proving the passphrase; otherwise it becomes the enclave's
supervisor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tazpod.enclave import control
from tazpod.enclave.env import enclave_environment
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
from tazpod.secrets import mapping_table
from tazpod.secrets import store as secretstore
from tazpod.secrets.mappings import SecretsConfig
from tazpod.sysio import environ, linux, procfs, procs
from tazpod.sysio.creds import acting_as
from tazpod.sysio.files import write_atomic
from tazpod.vault import unlocking
from tazpod.vault.base import Report, Vault
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import VaultLock
from tazpod.vault.prompts import PassphraseSource

_JOIN_ATTEMPTS = 5


@dataclass(frozen=True)
class _Opening:
    """Everything that opening (or joining) one enclave needs."""

    request: EnterRequest
    user: EnclaveUser
    vault: Vault
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


def _argv(request: EnterRequest, user: EnclaveUser, mount_point: Path) -> list[str]:
    if request.command:
        return list(request.command)
    return shell_argv(user.shell, mount_point)


def _environment(
    request: EnterRequest, user: EnclaveUser, mount_point: Path, report: Report
) -> dict[str, str]:
    mappings = request.secrets.mappings if request.secrets else ()
    with acting_as(user.uid, user.gid, user.groups):
        found = secretstore.VaultSecrets(mount_point)
        # `tazpod env` inside exports these mappings, never those of a newer secrets.yml
        problem = mapping_table.record(
            str(mount_point), str(request.project.secrets_path), mappings
        )
    for notice in [*found.notices(), *([problem] if problem else [])]:
        report(notice)  # a vault always opens; what it could not use is named
    env = enclave_environment(
        request.environ, user, mount_point, request.project.root, mappings, found.values
    )
    if paths.in_container():
        # What the enclave's own tazpod commands compare the shared files with (checked
        # against the host's approval before this enclave was opened); on a host they
        # ask the approval store itself, so `tazpod trust` needs no new enclave.
        env[environ.APPROVED] = trust.digest(trust.settings_of(request.config, request.secrets))
    return env


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
    opening = _Opening(request, user, vault, mount_point, source, report, on_retry)
    for _attempt in range(_JOIN_ATTEMPTS):
        with acting_as(user.uid, user.gid, user.groups):
            acquired = lock.try_acquire()
        if acquired:
            try:
                return _supervise(opening)
            finally:
                lock.release()
        try:
            return _join(opening)
        except _EnclaveGone:
            time.sleep(0.2)  # it was closing while we looked: try to open it ourselves
    raise VaultBusyError(
        f"the vault in {vault.directory} is busy (an enclave keeps opening and closing)",
        hint="try again in a moment",
    )


def _check_vault_dir(directory: Path, user: EnclaveUser) -> None:
    """The vault's files belong to the enclave's user: say so clearly when they do not."""
    try:
        with acting_as(user.uid, user.gid, user.groups):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
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
    record = paths.runtime_record(vault.directory)
    try:
        enclave.open()
        enclave.connect_bridges()
        with enclave.as_user():
            write_shell_files(enclave.root)
            if request.command is None:
                ensure_state_dir(enclave.root)
        _write_record(record, user, mount_point)
        env = _environment(request, user, mount_point, ctx.report)
        return Supervisor(enclave, _argv(request, user, mount_point), env, request.cwd).run()
    finally:
        with contextlib.suppress(FileNotFoundError):
            record.unlink()
        for problem in enclave.close():
            ctx.report(f"could not unmount {problem}")


def _write_record(record: Path, user: EnclaveUser, mount_point: Path) -> None:
    record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {"pid": os.getpid(), "uid": user.uid, "mount_point": str(mount_point)}
    write_atomic(record, json.dumps(payload).encode(), mode=0o600)


def _read_record(vault: Vault) -> dict[str, object]:
    busy = VaultBusyError(
        f"the vault in {vault.directory} is locked by another tazpod process",
        hint="wait for it to finish, or end it (it saves on SIGTERM)",
    )
    try:
        record = json.loads(paths.runtime_record(vault.directory).read_text())
    except (OSError, ValueError) as err:
        raise busy from err
    if not isinstance(record, dict) or not procs.alive(int(record.get("pid", 0))):
        raise busy
    return record


def _join(ctx: _Opening) -> int:
    request, user, vault, mount_point = ctx.request, ctx.user, ctx.vault, ctx.mount_point
    source, report, on_retry = ctx.source, ctx.report, ctx.on_retry
    record = _read_record(vault)
    if record.get("uid") != user.uid:
        raise VaultBusyError("the vault is open in another user's enclave")
    try:  # holding the namespace's descriptor keeps it alive while we prove the passphrase
        namespace = procfs.open_mount_namespace(str(record["pid"]))
    except FileNotFoundError as err:
        raise _EnclaveGone from err
    try:
        unlocking.prove(vault, source, on_retry)  # joining needs the passphrase too
        linux.setns(namespace, linux.CLONE_NEWNS)
    finally:
        os.close(namespace)
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
        env = _environment(request, user, mount_point, report)
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        child = spawn(user, _argv(request, user, mount_point), env, request.cwd)
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
