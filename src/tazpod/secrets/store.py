"""The secrets' files inside the open vault (run inside the enclave, as its user).

    .env-infisical         every secret of the Infisical project/env/path (dotenv)
    .env-local             secrets set or imported by hand (dotenv)
    .infisical-auth.json   the machine identity and its current access token
    <file>                 one file per secrets.yml mapping

All 0600, all written atomically; a sync is staged completely before any
file is replaced.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tazpod.errors import SecretsError, UsageError
from tazpod.secrets import dotenv
from tazpod.secrets.mappings import SecretMapping
from tazpod.secrets.value import Secret
from tazpod.sysio.files import atomic_writer, write_atomic

INFISICAL_ENV = ".env-infisical"
LOCAL_ENV = ".env-local"
AUTH_FILE = ".infisical-auth.json"


def vault_root() -> Path:
    """The open vault of the enclave this process runs in."""
    if os.environ.get("TAZPOD_GHOST_MODE") != "true" or not os.environ.get("TAZPOD_VAULT"):
        raise UsageError(
            "not inside an enclave", hint="open one with `tazpod unlock` (or use `tazpod run`)"
        )
    root = Path(os.environ["TAZPOD_VAULT"])
    if not root.is_dir():
        raise UsageError(f"the enclave's vault {root} is not mounted here")
    return root


@dataclass(frozen=True)
class MachineIdentity:
    site: str
    client_id: str
    client_secret: Secret
    access_token: Secret | None = None
    expires_at: float = 0.0

    def token_valid(self, margin: float = 60.0) -> bool:
        return self.access_token is not None and self.expires_at - margin > time.time()


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
        expires_at=float(data.get("expires_at", 0)),
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
    write_atomic(root / AUTH_FILE, json.dumps(payload).encode(), mode=0o600)


def read_values(root: Path, name: str) -> dict[str, Secret]:
    return dotenv.read_file(root / name)


def all_values(root: Path) -> dict[str, Secret]:
    """Infisical's secrets, then local ones on top (set by hand wins)."""
    values = read_values(root, INFISICAL_ENV)
    values.update(read_values(root, LOCAL_ENV))
    return values


def write_values(root: Path, name: str, values: Mapping[str, Secret]) -> None:
    write_atomic(root / name, dotenv.render(values).encode(), mode=0o600)


def replace_all(root: Path, files: Mapping[str, bytes]) -> None:
    """Write several files all-or-nothing: stage every one, then rename them in."""
    staged: list[tuple[Path, Path]] = []
    try:
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
    for name in sorted(set(infisical) | set(local)):
        if name in local:
            source = "local (overrides infisical)" if name in infisical else "local"
        else:
            source = "infisical"
        rows.append((name, source))
    for mapping in mappings:
        present = "" if (root / mapping.file).is_file() else ", not pulled yet"
        env = f" as ${mapping.env}" if mapping.env else ""
        rows.append((mapping.name, f"file {mapping.file}{env}{present}"))
    return rows
