"""Infisical's HTTP API: universal-auth login/renewal and the raw secrets list.

One list request returns a whole folder with its imports, so a sync costs a
constant number of requests however many secrets there are (TazPod ran the
CLI once per secret).
"""

from __future__ import annotations

import time
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

    # -- authentication -----------------------------------------------------------------
    def _token(self, payload: dict[str, Any], identity: MachineIdentity) -> MachineIdentity:
        return MachineIdentity(
            site=self.site,
            client_id=identity.client_id,
            client_secret=identity.client_secret,
            access_token=Secret(str(payload["accessToken"])),
            expires_at=time.time() + float(payload.get("expiresIn", 0)),
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
                f"Infisical refused the machine identity login: {err.message or err.status}",
                hint="check the client id and secret, then run `tazpod login` again",
            ) from None
        except TransportError as err:
            raise _unreachable(self.site, err) from None
        return self._token(payload, identity)

    def renew(self, identity: MachineIdentity) -> MachineIdentity:
        """Renew a still-valid token; fall back to a fresh login."""
        if identity.access_token is not None and identity.expires_at > time.time():
            try:
                payload = self.http.request(
                    "POST",
                    "/api/v1/auth/token/renew",
                    body={"accessToken": identity.access_token.reveal()},
                )
                return self._token(payload, identity)
            except ApiError:
                pass
        return self.login(identity)

    # -- secrets --------------------------------------------------------------------------
    def list_secrets(
        self, identity: MachineIdentity, project_id: str, environment: str, secret_path: str
    ) -> Listing:
        assert identity.access_token is not None
        params = {
            "workspaceId": project_id,
            "environment": environment,
            "secretPath": secret_path,
            "viewSecretValue": "true",
            "expandSecretReferences": "true",
            "recursive": "false",
            "include_imports": "true",
        }
        try:
            payload = self.http.request(
                "GET", "/api/v3/secrets/raw", params=params, token=identity.access_token.reveal()
            )
        except ApiError as err:
            raise _explain(err, project_id, environment) from None
        except TransportError as err:
            raise _unreachable(self.site, err) from None
        listing = Listing()
        for imported in payload.get("imports") or []:  # earlier imports lose to later ones
            _merge(listing, list(imported.get("secrets") or []))
        _merge(listing, list(payload.get("secrets") or []))  # local keys win over imports
        return listing


class TokenRejected(SecretsError):
    """The access token expired or was revoked: log in again and retry once."""


def _explain(err: ApiError, project_id: str, environment: str) -> SecretsError:
    if err.status == 401:
        return SecretsError(
            f"Infisical login expired or missing ({err.message})",
            hint="run `tazpod login` again",
        )
    if err.status == 403 and err.error == "TokenError":
        return TokenRejected(f"Infisical rejected the access token ({err.message})")
    if err.status == 403:
        return SecretsError(
            f"Infisical forbids reading project {project_id}, environment {environment!r}:"
            f" {err.message}",
            hint="give the machine identity read access to that project and environment",
        )
    if err.status == 404:
        return SecretsError(
            f"Infisical: {err.message or 'not found'}",
            hint="check config.infisical_project_id and config.environment in secrets.yml",
        )
    return SecretsError(f"Infisical answered {err.status}: {err.message or err.error}")


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
