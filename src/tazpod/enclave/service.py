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
from tazpod.enclave.session import Enclave
from tazpod.enclave.spawn import spawn
from tazpod.enclave.supervisor import Supervisor
from tazpod.enclave.user import EnclaveUser, require_root, resolve_user
from tazpod.errors import VaultBusyError, VaultError
from tazpod.project import paths
from tazpod.project.config import ProjectConfig
from tazpod.project.locate import Project
from tazpod.secrets import store as secretstore
from tazpod.secrets.mappings import SecretsConfig
from tazpod.sysio import linux, procfs, procs
from tazpod.sysio.creds import acting_as
from tazpod.sysio.cryptsetup import Kdf
from tazpod.sysio.files import write_atomic
from tazpod.vault import tarball
from tazpod.vault.base import OpenedVault
from tazpod.vault.lock import VaultLock
from tazpod.vault.luks import LuksMapping, LuksVault
from tazpod.vault.prompts import PassphraseSource, new_passphrase, with_passphrase
from tazpod.vault.ram import RamOpened, RamVault

Report = Callable[[str], None]
_JOIN_ATTEMPTS = 5


@dataclass(frozen=True)
class _Opening:
    """Everything that opening (or joining) one enclave needs."""

    request: EnterRequest
    user: EnclaveUser
    vault: RamVault | LuksVault
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


def _argv(request: EnterRequest, user: EnclaveUser) -> list[str]:
    if request.command:
        return list(request.command)
    return [user.shell, "-i"] if user.shell.endswith(("bash", "zsh", "sh")) else [user.shell]


def _environment(request: EnterRequest, user: EnclaveUser, mount_point: Path) -> dict[str, str]:
    mappings = request.secrets.mappings if request.secrets else ()
    with acting_as(user.uid, user.gid, user.groups):
        values = secretstore.all_values(mount_point)
    return enclave_environment(
        request.environ, user, mount_point, request.project.root, mappings, values
    )


def enter(request: EnterRequest, report: Report, on_retry: Callable[[int], None]) -> int:
    require_root("opening the vault")
    user = resolve_user(request.config.user, paths.in_container())
    source = request.passphrase.resolved()  # as root: the file may be root's
    mount_point = paths.mount_point(request.config.vault.mount_point, user.home)
    vault = closed_vault(request.project, request.config, user)
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


def closed_vault(
    project: Project, config: ProjectConfig, user: EnclaveUser
) -> RamVault | LuksVault:
    settings = config.vault
    if settings.backend == "luks":
        ids = (user.uid, user.gid, user.groups)
        kdf = Kdf(settings.kdf_time_ms, settings.kdf_memory_mib)
        return LuksVault(project.vault_dir, ids, settings.size_mib, kdf)
    return RamVault(project.vault_dir, owner=None)


def _verify_passphrase(vault: RamVault | LuksVault, user: EnclaveUser, passphrase: str) -> None:
    """Prove the passphrase without opening anything (joining needs it too)."""
    if isinstance(vault, LuksVault):
        vault.verify(passphrase)  # cryptsetup runs as root on the image the user opened
        return
    with acting_as(user.uid, user.gid, user.groups):
        vault.verify(passphrase)


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


def _open_ram(ctx: _Opening, vault: RamVault) -> RamOpened:
    user, report = ctx.user, ctx.report
    with acting_as(user.uid, user.gid, user.groups):
        for stale in vault.remove_stale_temps():
            report(f"removed {stale.name}, left by an interrupted save")
        if vault.exists():
            identity = with_passphrase(ctx.source, vault.unwrap, ctx.on_retry)
            archive = vault.decrypt(identity)
            recipient = identity.to_public()
            del identity  # saving needs only the public recipient
        else:
            recipient = vault.create(new_passphrase(ctx.source))
            archive = tarball.pack_empty()
            report(f"created a new vault in {vault.directory}")
    return RamOpened(vault, recipient, archive, ctx.request.config.vault.size_mib)


def _open_luks(ctx: _Opening, vault: LuksVault) -> LuksMapping:
    source, report = ctx.source, ctx.report
    for stale in vault.remove_stale_temps():
        report(f"removed {stale.name}, left by an interrupted create")
    if not vault.exists():
        passphrase = new_passphrase(source)
        vault.create(passphrase, report)
        report(f"created a new vault in {vault.image_path}")
        source = PassphraseSource(value=passphrase)
    return vault.unlock(source, ctx.on_retry, report)


def _supervise(ctx: _Opening) -> int:
    request, user, vault, mount_point = ctx.request, ctx.user, ctx.vault, ctx.mount_point
    store: OpenedVault = (
        _open_luks(ctx, vault) if isinstance(vault, LuksVault) else _open_ram(ctx, vault)
    )
    enclave = Enclave(user, store, mount_point, request.config.vault.bridges, ctx.report)
    record = paths.runtime_record(vault.directory)
    try:
        enclave.open()
        enclave.connect_bridges()
        _write_record(record, user, mount_point)
        env = _environment(request, user, mount_point)
        return Supervisor(enclave, _argv(request, user), env, request.cwd).run()
    finally:
        with contextlib.suppress(FileNotFoundError):
            record.unlink()
        for problem in enclave.close():
            ctx.report(f"could not unmount {problem}")


def _write_record(record: Path, user: EnclaveUser, mount_point: Path) -> None:
    record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {"pid": os.getpid(), "uid": user.uid, "mount_point": str(mount_point)}
    write_atomic(record, json.dumps(payload).encode(), mode=0o600)


def _read_record(vault: RamVault | LuksVault) -> dict[str, object]:
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
        with_passphrase(source, lambda p: _verify_passphrase(vault, user, p), on_retry)
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
        env = _environment(request, user, mount_point)
        for signum in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        child = spawn(user, _argv(request, user), env, request.cwd)
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
