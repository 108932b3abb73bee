"""What one enclave command starts with: its environment, its view, and what it was given.

Computed by root for the supervisor's first command and for each joined session, reading
the vault with the user's rights; again for each restart of a `--restart-on-change`
command. The grant (tazpod.secrets.grants) narrows the variables and the view
(tazpod.enclave.view); the delivery modes (tazpod.secrets.delivery) decide which values
are variables, files or the command's FIFO.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tazpod.enclave import bridges as bridge_ops
from tazpod.enclave.env import enclave_environment
from tazpod.enclave.shellstate import GENERATION_ENV
from tazpod.enclave.user import EnclaveUser
from tazpod.enclave.view import View
from tazpod.secrets import generation, mapping_table
from tazpod.secrets import store as secretstore
from tazpod.secrets.dotenv import render
from tazpod.secrets.environment import environment_plan
from tazpod.secrets.grants import Grant, resolve
from tazpod.secrets.mappings import SecretsConfig
from tazpod.secrets.shell import EnvPlan
from tazpod.secrets.value_files import materialize
from tazpod.sysio.creds import acting_as
from tazpod.vault.base import Report


@dataclass(frozen=True)
class Scope:
    """The command's place: who runs it, where the vault is, what it was granted."""

    user: EnclaveUser
    mount_point: Path
    project_root: Path
    secrets_path: Path
    secrets: SecretsConfig | None
    bridges: tuple[str, ...]
    asked: tuple[str, ...] | None  # the grant's names; None: the whole enclave
    shell: bool  # an interactive shell (its start-up files must be in a view)
    inherited: Mapping[str, str]
    extra: Mapping[str, str]  # set after everything else (tazpod's own variables)


@dataclass(frozen=True)
class Prepared:
    env: dict[str, str]
    view: View | None
    grant: Grant | None
    plan: EnvPlan  # what the vault gave: a keeper's fingerprint() compares it


def prepare(scope: Scope, report: Report, record: bool = True) -> Prepared:
    """The command's environment and view from the vault as it is now (root, in the enclave)."""
    user, root = scope.user, str(scope.mount_point)
    secrets = scope.secrets
    mappings = secrets.mappings if secrets else ()
    delivery = dict(secrets.delivery) if secrets else {}
    notices: list[str] = []
    with acting_as(user.uid, user.gid, user.groups):
        problem = None
        if record:
            # `tazpod env` inside exports these mappings, never those of a newer secrets.yml
            problem = mapping_table.record(
                root, str(scope.secrets_path), mappings, None, secrets.delivery if secrets else ()
            )
        # Read before the secrets: a change in between is applied again at the shell's
        # first prompt, never missed (tazpod.enclave.shellstate's prompt hook).
        started = generation.read(root) if scope.shell and scope.asked is None else ""
        found = secretstore.VaultSecrets(scope.mount_point)
        if record:
            notices += [*found.notices(), *([problem] if problem else [])]
        grant = None
        if scope.asked is not None:
            grant = resolve(scope.asked, found.values, mappings, scope.bridges)
        plan = environment_plan(mapping_table.rows_of(mappings), root, delivery, grant)
        if grant is None:
            notices += materialize(root, plan.value_files, plan.sources)
    for notice in notices:
        report(notice)  # a vault always opens; what it could not use is named
    env = enclave_environment(
        scope.inherited, user, scope.mount_point, scope.project_root, _delivered(plan)
    )
    view = None
    if grant is not None or plan.fifo:
        dropped, read_only = _bridge_places(scope, grant)
        view = View(
            user=user,
            mount_point=scope.mount_point,
            granted=grant is not None,
            files=tuple(sorted(grant.files)) if grant else (),
            drop_bridges=dropped,
            writable=tuple(sorted(grant.writable & grant.files)) if grant else (),
            readonly_bridges=read_only,
            value_files=dict(plan.value_files) if grant else {},
            fifo=render(plan.fifo).encode() if plan.fifo else None,
            shell=scope.shell,
            label=grant.label() if grant else "",
        )
        env.update(view.environment())
    if started:  # the whole enclave in sight: the shell's prompt hook starts from it
        env[GENERATION_ENV] = started
    env.update(scope.extra)
    return Prepared(env, view, grant, plan)


def _delivered(plan: EnvPlan) -> dict[str, str]:
    """The variables: values delivered as such, and paths (mapped and value files)."""
    variables = {name: secret.reveal() for name, secret in plan.secrets.items()}
    variables.update(plan.exports)
    return variables


def _bridge_places(scope: Scope, grant: Grant | None) -> tuple[tuple[Path, ...], ...]:
    """A grant's bridges by home path: (not granted: unmounted, granted without `:rw`)."""
    if grant is None:
        return (), ()
    plans = bridge_ops.plan_bridges(scope.bridges, scope.user.home, scope.mount_point)
    read_only = grant.bridges - grant.writable
    return (
        tuple(b.home_path for b in plans if b.spec not in grant.bridges),
        tuple(b.home_path for b in plans if b.spec in read_only),
    )


def fingerprint(scope: Scope, prepared: Prepared) -> str:
    """A digest of every value and file the command got (read as the user): only a
    `--restart-on-change` keeper asks, not every command's start."""
    with acting_as(scope.user.uid, scope.user.gid, scope.user.groups):
        return _fingerprint(prepared.plan)


def _fingerprint(plan: EnvPlan) -> str:
    """A digest of every value and file the command gets (read as the user)."""
    digest = hashlib.sha256()
    for kind, values in (("v", plan.secrets), ("f", plan.value_files), ("p", plan.fifo)):
        for name in sorted(values):
            digest.update(f"{kind}\0{name}\0{values[name].reveal()}\0".encode())
    for variable in sorted(plan.exports):
        path = plan.exports[variable]
        digest.update(f"x\0{variable}\0{path}\0".encode())
        digest.update(_file_digest(path))
    return digest.hexdigest()


def _file_digest(path: str) -> bytes:
    """A plain file's content digest; anything else (a link, a FIFO someone put there) is
    never opened for reading: it could block the root side that asks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b"-"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b"?"
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 16):
            digest.update(chunk)
        return digest.digest()
    except OSError:
        return b"-"
    finally:
        os.close(fd)


def identity(scope: Scope) -> tuple[tuple[int, int, int], ...]:
    """Cheap: the identity of the files a command's values come from (a poll compares it
    before computing a fingerprint)."""
    names = [secretstore.INFISICAL_ENV, secretstore.LOCAL_ENV]
    names += [m.file for m in (scope.secrets.mappings if scope.secrets else ())]
    found = []
    with acting_as(scope.user.uid, scope.user.gid, scope.user.groups):
        for name in names:
            try:
                st = os.stat(scope.mount_point / name)
                found.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                found.append((0, 0, 0))
    return tuple(found)
