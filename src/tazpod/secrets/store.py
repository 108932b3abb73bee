"""The secrets' files inside the open vault (run inside the enclave, as its user).

    .env-infisical         every secret of the Infisical project/env/path (dotenv)
    .env-local             secrets set or imported by hand (dotenv)
    .infisical-auth.json   the machine identity and its current access token
    <file>                 one file per secrets.yml mapping

All 0600, all written atomically; a sync is staged completely before any
file is replaced. Reading never fails on content (see dotenv): a vault always
opens, and what could not be read is reported by file, line and name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tazpod.errors import SecretsError, UsageError, VaultError
from tazpod.secrets import dotenv, generation
from tazpod.secrets.mappings import SecretMapping
from tazpod.secrets.value import Secret
from tazpod.sysio.environ import enclave_vault
from tazpod.sysio.files import atomic_writer, write_atomic

INFISICAL_ENV = ".env-infisical"
LOCAL_ENV = ".env-local"
AUTH_FILE = ".infisical-auth.json"


def vault_root() -> Path:
    """The open vault of the enclave this process runs in."""
    vault = enclave_vault()
    if vault is None:
        raise UsageError(
            "not inside an enclave", hint="open one with `tazpod unlock` (or use `tazpod run`)"
        )
    root = Path(vault)
    if not root.is_dir():
        raise UsageError(f"the enclave's vault {root} is not mounted here")
    return root


@dataclass(frozen=True)
class MachineIdentity:
    site: str
    client_id: str
    client_secret: Secret
    access_token: Secret | None = None
    expires_at: float | None = 0.0  # None: the token does not expire (Infisical's TTL 0)

    def token_valid(self, margin: float = 60.0) -> bool:
        if self.access_token is None:
            return False
        return self.expires_at is None or self.expires_at - margin > time.time()


def load_identity(root: Path) -> MachineIdentity | None:
    path = root / AUTH_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise SecretsError(f"{path} is damaged", hint="run `tazpod login` again") from err
    token = data.get("access_token")
    return MachineIdentity(
        site=str(data["site"]),
        client_id=str(data["client_id"]),
        client_secret=Secret(str(data["client_secret"])),
        access_token=Secret(token) if token else None,
        expires_at=None if data.get("expires_at", 0) is None else float(data["expires_at"]),
    )


def save_identity(root: Path, identity: MachineIdentity) -> None:
    payload = {
        "version": 1,
        "method": "universal-auth",
        "site": identity.site,
        "client_id": identity.client_id,
        "client_secret": identity.client_secret.reveal(),
        "access_token": identity.access_token.reveal() if identity.access_token else None,
        "expires_at": identity.expires_at,
    }
    data = json.dumps(payload).encode()
    with _space_for(root, len(data), "the Infisical login"):
        write_atomic(root / AUTH_FILE, data, mode=0o600)


class VaultFull(VaultError):
    """The vault's file system has no room for what must be written (nothing was changed)."""

    def __init__(self, what: str, needed: int, used: int, total: int) -> None:
        self.needed_mib = -(-(used + needed) // (1024 * 1024)) + 1  # round up, plus slack
        super().__init__(
            f"the vault is full: writing {what} needs {_kib(needed)} more, and"
            f" {_kib(max(total - used, 0))} of {_kib(total)} are free; no file was changed"
        )

    def explained(self, backend: str, size_mib: int) -> VaultError:
        """The same error with how to make room, for the vault's configured size."""
        want = max(self.needed_mib, size_mib * 2)
        if backend == "luks":
            how = (
                f"the luks image has a fixed size (vault.size {size_mib}M): move the vault to a"
                f" larger one with `sudo tazpod vault migrate --to ram --size {want}M`"
            )
        else:
            how = (
                f"raise vault.size in .tazpod/config.yaml (now {size_mib}M, needed at least"
                f" {self.needed_mib}M; e.g. {want}M), then `tazpod lock` and unlock again"
            )
        return VaultError(self.message, hint=how)


def _kib(size: int) -> str:
    return f"{-(-size // 1024)} KiB"


@contextlib.contextmanager
def _space_for(root: Path, needed: int, what: str) -> Iterator[None]:
    """ENOSPC/EDQUOT become VaultFull, with the sizes (the writers leave files intact)."""
    try:
        yield
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        usage = shutil.disk_usage(root)
        raise VaultFull(what, needed, usage.used, usage.total) from err


def read_file(root: Path, name: str) -> dotenv.Parsed:
    """One dotenv file of the vault: values, and the lines skipped (never fails on content)."""
    try:
        return dotenv.read_file(root / name)
    except OSError as err:
        parsed = dotenv.Parsed()
        problem = f"cannot be read ({err.strerror or type(err).__name__}); ignored"
        parsed.problems.append(dotenv.Problem(str(root / name), 0, None, problem))
        return parsed


def read_values(root: Path, name: str) -> dict[str, Secret]:
    return read_file(root, name).values


class VaultSecrets:
    """Every dotenv secret of the vault (local ones win) and what could not be read."""

    def __init__(self, root: Path) -> None:
        infisical, local = read_file(root, INFISICAL_ENV), read_file(root, LOCAL_ENV)
        self.values = {**infisical.values, **local.values}
        self.problems = [*infisical.problems, *local.problems]

    def notices(self) -> list[str]:
        """What `unlock` and `run` say once: lines skipped, secrets not exported (by name)."""
        from tazpod.secrets.shell import skipped_notice

        lines = [f"{problem}; skipped" for problem in self.problems]
        notice = skipped_notice(self.values)
        return [*lines, notice] if notice else lines


def all_values(root: Path) -> dict[str, Secret]:
    """Infisical's secrets, then local ones on top (set by hand wins)."""
    return VaultSecrets(root).values


def problems(root: Path) -> list[str]:
    """The unreadable lines of the vault's dotenv files, one message each, never a value."""
    return [f"{problem}; skipped" for problem in VaultSecrets(root).problems]


def write_values(root: Path, name: str, values: Mapping[str, Secret]) -> None:
    data = dotenv.render(values).encode()
    with _space_for(root, len(data), name):
        write_atomic(root / name, data, mode=0o600)
    _changed(root)


def _changed(root: Path) -> None:
    """Tell the enclave's shells (their next prompt) that `tazpod env` prints something new."""
    try:
        generation.bump(root)
    except OSError as err:
        raise VaultError(
            f"the secrets were stored, but {generation.path(root)} could not be replaced"
            f" ({err.strerror}): the other enclave shells keep their variables",
            hint='refresh a shell\'s variables by hand: eval "$(tazpod env)"',
        ) from err


def replace_all(root: Path, files: Mapping[str, bytes]) -> None:
    """Write several files all-or-nothing: stage every one, then rename them in."""
    staged: list[tuple[Path, Path]] = []
    needed = sum(len(data) for data in files.values())
    try:
        with _space_for(root, needed, f"{len(files)} files of secrets"):
            for name, data in files.items():
                target = root / name
                stage = root / f".{name}.staged"
                with atomic_writer(stage, mode=0o600) as handle:
                    handle.write(data)
                staged.append((stage, target))
    except BaseException:
        for stage, _target in staged:
            stage.unlink(missing_ok=True)
        raise
    for stage, target in staged:
        stage.replace(target)
    _changed(root)


def set_local(root: Path, name: str, value: Secret) -> None:
    """Store one secret set by hand (it overrides a pulled one of the same name)."""
    local = read_values(root, LOCAL_ENV)
    local[name] = value
    write_values(root, LOCAL_ENV, local)


def unset_local(root: Path, name: str) -> bool:
    """Remove a secret set by hand; False when there was none of that name."""
    local = read_values(root, LOCAL_ENV)
    if local.pop(name, None) is None:
        return False
    write_values(root, LOCAL_ENV, local)
    return True


def import_local(root: Path, values: Mapping[str, Secret]) -> list[str]:
    """Store many secrets set by hand; returns the names that replaced earlier ones."""
    local = read_values(root, LOCAL_ENV)
    replaced = sorted(name for name in values if name in local)
    local.update(values)
    write_values(root, LOCAL_ENV, local)
    return replaced


def inventory(root: Path, mappings: Iterable[SecretMapping]) -> list[tuple[str, str]]:
    """(name, where it comes from) for every secret of the vault: never a value."""
    infisical = read_values(root, INFISICAL_ENV)
    local = read_values(root, LOCAL_ENV)
    rows: list[tuple[str, str]] = []
    from tazpod.secrets.shell import skip_reason

    for name in sorted(set(infisical) | set(local)):
        if name in local:
            source = "local (overrides infisical)" if name in infisical else "local"
        else:
            source = "infisical"
        reason = skip_reason(name)
        rows.append((name, f"{source}, not exported ({reason})" if reason else source))
    for mapping in mappings:
        present = "" if (root / mapping.file).is_file() else ", not pulled yet"
        env = f" as ${mapping.env}" if mapping.env else ""
        rows.append((mapping.name, f"file {mapping.file}{env}{present}"))
    return rows
