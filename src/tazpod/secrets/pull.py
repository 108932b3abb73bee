"""`tazpod pull`: bring the project's secrets from Infisical into the open vault.

All or nothing: every secret is fetched (one list request), every mapped
name is checked, the new files are rendered and read back with the reader
every other command uses, every file is staged, and only then are files
replaced. A failure at any step leaves the previous files as they were. An
empty answer is not applied blindly: Infisical lists an unknown environment
or folder as empty, so the environment is checked, and N secrets are not
replaced by none unless the caller allows it.
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
    if site_root(identity.site) != api.site:
        # secrets.yml is in the workspace, which the container (or a commit) can change: the
        # machine identity's client secret goes only to the site the user logged in to.
        raise SecretsError(
            f"secrets.yml names the Infisical site {api.site}, but the machine identity in the"
            f" vault was made for {site_root(identity.site)}; tazpod never sends it elsewhere",
            hint="if you moved to the new site on purpose, log in there: `tazpod login`",
        )
    if not identity.token_valid():
        identity = api.renew(identity)
        secretstore.save_identity(root, identity)
    args = (config.project_id, config.environment, config.secret_path)
    try:
        listing = api.list_secrets(identity, *args)
    except TokenRejected:  # revoked (401) or expired (403 TokenError): one login, one retry
        identity = api.login(identity)
        secretstore.save_identity(root, identity)
        listing = api.list_secrets(identity, *args)
    if not listing.values and not listing.hidden:
        listing.environments = api.environments(identity, config.project_id)
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
    allow_empty: bool = False,
) -> SyncResult:
    if not config.project_id:
        raise ConfigError(
            f"{secrets_path}: config.infisical_project_id is empty",
            hint="set it to your Infisical project's id",
        )
    listing, source, requests = fetch(root, config, home, retry)
    where = (
        f"project {config.project_id}, environment {config.environment!r},"
        f" path {config.secret_path}"
    )
    old = secretstore.read_values(root, secretstore.INFISICAL_ENV)
    if not listing.values:
        _check_empty(listing, config, where, len(old), allow_empty)
    _check_mappings(listing, config, where)
    files = {secretstore.INFISICAL_ENV: _rendered(listing)}
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


def _check_mappings(listing: Listing, config: SecretsConfig, where: str) -> None:
    mapped_hidden = [m.name for m in config.mappings if m.name in listing.hidden]
    missing = [
        m.name
        for m in config.mappings
        if m.name not in listing.values and m.name not in mapped_hidden
    ]
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


def _check_empty(
    listing: Listing, config: SecretsConfig, where: str, held: int, allow_empty: bool
) -> None:
    """An empty answer may be a typo: Infisical lists unknown environments and folders so."""
    known = listing.environments
    if known is not None and config.environment not in known:
        raise SecretsError(
            f"Infisical project {config.project_id} has no environment"
            f" {config.environment!r} (it has: {', '.join(known) or 'none'})",
            hint="fix config.environment in secrets.yml; no file was changed",
        )
    if held and not listing.hidden and not allow_empty:
        raise SecretsError(
            f"Infisical ({where}) gives no secrets, and the vault holds {held} from it:"
            " not replacing them with none",
            hint="check config.secret_path (an unknown folder lists as empty); to empty them"
            " on purpose: tazpod pull --allow-empty; no file was changed",
        )


def _rendered(listing: Listing) -> bytes:
    """`.env-infisical`'s new bytes, read back first: a pull never writes what cannot open."""
    values = listing.values
    unwritable = []
    for name, value in values.items():
        try:
            (name + value.reveal()).encode()
        except UnicodeEncodeError:
            unwritable.append(name)
    if unwritable:
        raise _unreadable(unwritable)
    text = dotenv.render(values)
    back = dotenv.read_text(text, secretstore.INFISICAL_ENV)
    wrong = {p.name or "?" for p in back.problems}
    wrong |= {n for n in values if back.values.get(n) != values[n]}
    wrong |= set(back.values) - set(values)
    if wrong:
        raise _unreadable(sorted(wrong))
    return text.encode()


def _unreadable(names: list[str]) -> SecretsError:
    return SecretsError(
        f"Infisical gives secrets that the vault could not hold exactly: {', '.join(names)}",
        hint="a value with a NUL byte or invalid unicode cannot be a file or a variable; fix it"
        " in Infisical; no file was changed",
    )
