"""`tazpod pull`: bring the project's secrets from Infisical into the open vault.

All or nothing: every secret is fetched (one list request), every mapped
name is checked, every file is staged, and only then are files replaced. A
failure at any step leaves the previous files as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tazpod.errors import ConfigError, SecretsError
from tazpod.secrets import dotenv
from tazpod.secrets import store as secretstore
from tazpod.secrets.mappings import SecretsConfig
from tazpod.sources import infisical_cli
from tazpod.sources.http import RetryPolicy
from tazpod.sources.infisical import InfisicalApi, Listing, TokenRejected, site_root


@dataclass
class SyncResult:
    source: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def count(self) -> int:
        return len(self.added) + len(self.changed)


def _fetch_with_identity(
    root: Path,
    config: SecretsConfig,
    identity: secretstore.MachineIdentity,
    retry: RetryPolicy | None,
) -> tuple[Listing, int]:
    api = InfisicalApi(config.url, retry=retry)
    if site_root(identity.site) != api.site:  # logged in elsewhere: a token there is no use
        identity = api.login(identity)
        secretstore.save_identity(root, identity)
    elif not identity.token_valid():
        identity = api.renew(identity)
        secretstore.save_identity(root, identity)
    args = (config.project_id, config.environment, config.secret_path)
    try:
        listing = api.list_secrets(identity, *args)
    except TokenRejected:
        identity = api.login(identity)
        secretstore.save_identity(root, identity)
        listing = api.list_secrets(identity, *args)
    return listing, api.http.requests_made


def fetch(
    root: Path, config: SecretsConfig, home: Path, retry: RetryPolicy | None = None
) -> tuple[Listing, str, int]:
    """The listing, a description of the source, and the HTTP requests it took."""
    identity = secretstore.load_identity(root)
    if identity is not None:
        listing, requests = _fetch_with_identity(root, config, identity, retry)
        return (
            listing,
            f"Infisical ({config.url}) as machine identity {identity.client_id}",
            requests,
        )
    cli_user = infisical_cli.session_user(home) if infisical_cli.cli_path() else None
    if cli_user is not None:
        listing = infisical_cli.export(
            config.project_id, config.environment, config.secret_path, config.url, home
        )
        return listing, f"Infisical ({config.url}) as {cli_user}, through the Infisical CLI", 0
    hint = "run `tazpod login` to store a machine identity (client id and secret) in the vault"
    if infisical_cli.cli_path():
        hint += ", or `infisical login` inside the enclave"
    raise SecretsError("not logged in to Infisical", hint=hint)


def pull(
    root: Path,
    config: SecretsConfig,
    secrets_path: Path,
    home: Path,
    retry: RetryPolicy | None = None,
) -> SyncResult:
    if not config.project_id:
        raise ConfigError(
            f"{secrets_path}: config.infisical_project_id is empty",
            hint="set it to your Infisical project's id",
        )
    listing, source, requests = fetch(root, config, home, retry)
    mapped_hidden = [m.name for m in config.mappings if m.name in listing.hidden]
    missing = [
        m.name
        for m in config.mappings
        if m.name not in listing.values and m.name not in mapped_hidden
    ]
    where = (
        f"project {config.project_id}, environment {config.environment!r},"
        f" path {config.secret_path}"
    )
    if missing or mapped_hidden:
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if mapped_hidden:
            problems.append(f"value hidden from this identity: {', '.join(mapped_hidden)}")
        raise SecretsError(
            f"secrets.yml maps secrets that Infisical ({where}) does not give:"
            f" {'; '.join(problems)}",
            hint="fix the names in secrets.yml or the secrets in Infisical; no file was changed",
        )
    old = secretstore.read_values(root, secretstore.INFISICAL_ENV)
    files = {secretstore.INFISICAL_ENV: dotenv.render(listing.values).encode()}
    for mapping in config.mappings:
        files[mapping.file] = listing.values[mapping.name].reveal().encode()
    secretstore.replace_all(root, files)
    new = listing.values
    return SyncResult(
        source=source,
        added=sorted(set(new) - set(old)),
        changed=sorted(n for n in set(new) & set(old) if new[n] != old[n]),
        removed=sorted(set(old) - set(new)),
        files=[m.file for m in config.mappings],
        hidden=sorted(listing.hidden),
        requests=requests,
    )
