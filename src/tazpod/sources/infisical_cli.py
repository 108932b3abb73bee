"""The Infisical CLI's user login, when the image has the CLI.

The CLI keeps its session in ~/.infisical/infisical-config.json and its
token in ~/infisical-keyring (both bridged into the vault). tazpod runs
`infisical export --format=json` once per sync, never one call per secret,
with HOME set to the enclave user's home and nothing secret in argv.
"""

from __future__ import annotations

import json
from pathlib import Path

from tazpod.errors import SecretsError
from tazpod.secrets.value import Secret
from tazpod.sources.infisical import Listing, site_root
from tazpod.sysio.environ import child_env
from tazpod.sysio.run import CannotRun, CommandFailed, run
from tazpod.sysio.tools import find_tool

CONFIG = Path(".infisical") / "infisical-config.json"


def cli_path() -> str | None:
    """The CLI on the enclave user's PATH: it runs as that user, for that user's login."""
    return find_tool("infisical", on_path=True)


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
    # Only HOME (the CLI's session) and PATH: none of the enclave's secret variables.
    env = child_env({"HOME": str(home)}, allow=("PATH",), allow_prefixes=())
    env.setdefault("PATH", "/usr/bin:/bin")
    try:
        done = run(command, timeout=120, env=env)
    except CannotRun as err:
        raise SecretsError(f"could not run the Infisical CLI: {err.reason}") from None
    except CommandFailed as err:
        # The CLI's stderr names problems, not values; keep only its last line.
        last = (err.last_line or "no message")[:300]
        raise SecretsError(
            f"`infisical export` failed ({err.returncode}): {last}",
            hint="log in again with `infisical login` inside the enclave",
        ) from None
    try:
        entries = json.loads(done.out)
        values = {str(e["key"]): Secret(str(e["value"])) for e in entries}
    except (ValueError, TypeError, KeyError) as err:
        raise SecretsError("`infisical export` printed something that is not its JSON") from err
    return Listing(values=values)
