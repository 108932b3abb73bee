"""Infisical's HTTP API: universal-auth login/renewal, the secrets list, environments.

One list request returns a whole folder with its imports, so a sync costs a
constant number of requests however many secrets there are (TazPod ran the
CLI once per secret). Lists go through `GET /api/v4/secrets` (what Infisical's
CLI uses), or v3's raw route on servers that answer 404 for v4. Tokens are
handled as Infisical's own clients do: a 401 (revoked, deleted, used up) or a
403 TokenError (expired) means one fresh login with the stored identity, and
an `expiresIn` of 0 means a token that does not expire.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tazpod.errors import SecretsError
from tazpod.secrets.store import MachineIdentity
from tazpod.secrets.value import Secret
from tazpod.sources.http import ApiError, JsonClient, RetryPolicy, TransportError

HIDDEN = "<hidden-by-infisical>"


def site_root(url: str) -> str:
    """TazPod wrote `https://eu.infisical.com/api`; the SDK wants the root. Accept both."""
    root = url.strip().rstrip("/")
    return root[: -len("/api")] if root.endswith("/api") else root


@dataclass
class Listing:
    values: dict[str, Secret] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)  # readable names, unreadable values
    # The project's environment slugs, asked only when the list came back empty (an
    # unknown environment or folder lists as empty); None: not asked, or not known.
    environments: list[str] | None = None


def _merge(into: Listing, secrets: list[dict[str, Any]]) -> None:
    for secret in secrets:
        name = str(secret.get("secretKey", ""))
        if not name:
            continue
        if secret.get("secretValueHidden") or secret.get("secretValue") == HIDDEN:
            into.hidden.append(name)
            into.values.pop(name, None)
            continue
        into.values[name] = Secret(str(secret.get("secretValue", "")))
        if name in into.hidden:
            into.hidden.remove(name)


class InfisicalApi:
    def __init__(self, site: str, retry: RetryPolicy | None = None) -> None:
        self.site = site_root(site)
        self.http = JsonClient(self.site, retry=retry)
        self.v4 = True  # until the server answers 404 for it

    # -- authentication -----------------------------------------------------------------
    def _token(self, payload: dict[str, Any], identity: MachineIdentity) -> MachineIdentity:
        ttl = float(payload.get("expiresIn") or 0)
        return MachineIdentity(
            site=self.site,
            client_id=identity.client_id,
            client_secret=identity.client_secret,
            access_token=Secret(str(payload["accessToken"])),
            expires_at=time.time() + ttl if ttl > 0 else None,  # 0: does not expire
        )

    def login(self, identity: MachineIdentity) -> MachineIdentity:
        try:
            payload = self.http.request(
                "POST",
                "/api/v1/auth/universal-auth/login",
                body={
                    "clientId": identity.client_id,
                    "clientSecret": identity.client_secret.reveal(),
                },
            )
        except ApiError as err:
            raise SecretsError(
                f"Infisical refused the machine identity login: {describe(err)}",
                hint="check the client id and secret, then run `tazpod login` again",
            ) from None
        except TransportError as err:
            raise _unreachable(self.site, err) from None
        return self._token(payload, identity)

    def renew(self, identity: MachineIdentity) -> MachineIdentity:
        """Renew a still-valid token; on any failure (network, 5xx, 401) log in afresh."""
        token = identity.access_token
        if token is not None and (identity.expires_at is None or identity.expires_at > time.time()):
            try:
                payload = self.http.request(
                    "POST", "/api/v1/auth/token/renew", body={"accessToken": token.reveal()}
                )
                return self._token(payload, identity)
            except (ApiError, TransportError, KeyError, ValueError):
                pass  # past its max TTL, revoked, or the server failed: a login decides
        return self.login(identity)

    # -- secrets --------------------------------------------------------------------------
    def list_secrets(
        self, identity: MachineIdentity, project_id: str, environment: str, secret_path: str
    ) -> Listing:
        try:
            payload = self._list(identity, project_id, environment, secret_path)
        except ApiError as err:
            raise _explain(err, project_id, environment, secret_path) from None
        except TransportError as err:
            raise _unreachable(self.site, err) from None
        listing = Listing()
        for imported in payload.get("imports") or []:  # earlier imports lose to later ones
            _merge(listing, list(imported.get("secrets") or []))
        _merge(listing, list(payload.get("secrets") or []))  # local keys win over imports
        return listing

    def _list(
        self, identity: MachineIdentity, project_id: str, environment: str, secret_path: str
    ) -> dict[str, Any]:
        assert identity.access_token is not None
        token = identity.access_token.reveal()
        common = {
            "environment": environment,
            "secretPath": secret_path,
            "viewSecretValue": "true",
            "expandSecretReferences": "true",
            "recursive": "false",
        }
        if self.v4:
            params = {"projectId": project_id, **common, "includeImports": "true"}
            try:
                return self.http.request("GET", "/api/v4/secrets", params=params, token=token)
            except ApiError as err:
                if err.status != 404:
                    raise
                self.v4 = False  # an older server: its raw v3 route lists the same
        params = {"workspaceId": project_id, **common, "include_imports": "true"}
        return self.http.request("GET", "/api/v3/secrets/raw", params=params, token=token)

    def environments(self, identity: MachineIdentity, project_id: str) -> list[str] | None:
        """The project's environment slugs; None when this server or identity cannot tell."""
        assert identity.access_token is not None
        path = "/api/v1/workspace/" + urllib.parse.quote(project_id, safe="")
        try:
            payload = self.http.request("GET", path, token=identity.access_token.reveal())
        except (ApiError, TransportError):
            return None
        project = payload.get("project") or payload.get("workspace")  # newer, older servers
        found = project.get("environments") if isinstance(project, dict) else None
        if not isinstance(found, list):
            return None
        return [str(e["slug"]) for e in found if isinstance(e, dict) and e.get("slug")]


def describe(err: ApiError) -> str:
    """Infisical's message, with its `error` field where that says more (403 not a member)."""
    message = err.message
    if err.error and " " in err.error and err.error not in message:
        return f"{message} ({err.error})" if message else err.error
    return message or err.error or str(err.status)


class TokenRejected(SecretsError):
    """The access token expired or was revoked: log in again and retry once."""


def _explain(err: ApiError, project_id: str, environment: str, path: str) -> SecretsError:
    if err.status == 401 or (err.status == 403 and err.error == "TokenError"):
        return TokenRejected(
            f"Infisical rejected the access token ({describe(err)})",
            hint="run `tazpod login` again",
        )
    if err.status == 403:
        return SecretsError(
            f"Infisical forbids reading project {project_id}, environment {environment!r}:"
            f" {describe(err)}",
            hint="check config.infisical_project_id in secrets.yml, and give the machine"
            " identity read access to that project and environment",
        )
    if err.status == 404:
        return SecretsError(
            f"Infisical: {describe(err) or 'not found'}",
            hint="check config.infisical_project_id and config.environment in secrets.yml",
        )
    return SecretsError(
        f"Infisical answered {err.status} for project {project_id}, environment"
        f" {environment!r}, path {path}: {describe(err)}"
    )


def _unreachable(site: str, err: TransportError) -> SecretsError:
    if err.status == 429:
        return SecretsError(
            f"Infisical at {site} kept throttling requests (429): {err}",
            hint="wait a minute and try again",
        )
    return SecretsError(
        f"cannot sync with Infisical at {site}: {err}",
        hint="check the network and config.infisical_url in secrets.yml",
    )
