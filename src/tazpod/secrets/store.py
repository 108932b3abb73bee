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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tazpod.errors import SecretsError, UsageError
from tazpod.secrets import dotenv
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
