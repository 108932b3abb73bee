"""The Infisical CLI's user login, when the image has the CLI.

The CLI keeps its session in ~/.infisical/infisical-config.json and its
token in ~/infisical-keyring (both bridged into the vault). tazpod runs
`infisical export --format=json` once per sync, never one call per secret,
with HOME set to the enclave user's home and nothing secret in argv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tazpod.errors import SecretsError
from tazpod.secrets.value import Secret
from tazpod.sources.infisical import Listing, site_root

CONFIG = Path(".infisical") / "infisical-config.json"


def cli_path() -> str | None:
    return shutil.which("infisical")


def session_user(home: Path) -> str | None:
    """The e-mail of the CLI's logged-in user, if there is a session."""
    try:
        data = json.loads((home / CONFIG).read_text())
    except (OSError, ValueError):
        return None
    user = data.get("loggedInUserEmail") if isinstance(data, dict) else None
    return str(user) if user else None


def export_command(
    cli: str, project_id: str, environment: str, secret_path: str, site: str
) -> list[str]:
    return [
        cli,
        "export",
        "--format=json",
        f"--projectId={project_id}",
        f"--env={environment}",
        f"--path={secret_path}",
        f"--domain={site_root(site)}/api",
        "--silent",
    ]


def export(project_id: str, environment: str, secret_path: str, site: str, home: Path) -> Listing:
    cli = cli_path()
    if cli is None:
        raise SecretsError("the Infisical CLI is not installed in this environment")
    command = export_command(cli, project_id, environment, secret_path, site)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SecretsError(f"could not run the Infisical CLI: {err}") from None
    if done.returncode != 0:
        # The CLI's stderr names problems, not values; keep only its last line.
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise SecretsError(
            f"`infisical export` failed ({done.returncode}): {last}",
            hint="log in again with `infisical login` inside the enclave",
        )
    try:
        entries = json.loads(done.stdout)
        values = {str(e["key"]): Secret(str(e["value"])) for e in entries}
    except (ValueError, TypeError, KeyError) as err:
        raise SecretsError("`infisical export` printed something that is not its JSON") from err
    return Listing(values=values)
