"""A local Infisical API server for tests and benchmarks.

It reproduces what tazpod and Infisical's official Python SDK rely on, as
Infisical's own sources define it (see shared/infisical-api.md), including what a
client finds awkward: universal-auth login and token renewal (`expiresIn: 0` is a
token without expiry); the v3 raw and v4 secrets list/get endpoints with their query
parameters and JSON shapes (no `imports` key when imports are off; 422 with an ARRAY
of issues for a bad boolean); imports (local keys win; later imports win); the
project route listing environments (`/api/v1/workspace/{id}`, `/api/v1/projects/{id}`);
error bodies {reqId, statusCode, message, error}; 403 TokenError for an expired or
malformed token (the JWT check runs first) but 401 for a revoked one; an unknown
environment or folder lists as 200 with empty lists, an unknown project is 403
"not a member"; secret names with anything but `:` and `/`; the 3-failure login
lock-out; and 401/403/404/429 (Retry-After and x-ratelimit-* headers)/500 or a
dropped connection on demand; `v4=False` for servers without the v4 route.
Loopback only.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Secrets = dict[str, str]
_BOOLEANS = frozenset(
    {
        "viewSecretValue",
        "expandSecretReferences",
        "recursive",
        "include_imports",
        "includeImports",
        "includePersonalOverrides",
    }
)
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Injected:
    status: int  # 0: drop the connection halfway through a response
    retry_after: int | None = None
    message: str | None = None
    path_prefix: str = "/api"


@dataclass
class ApiState:
    identities: dict[str, str] = field(default_factory=dict)  # client id -> secret
    # project id -> environment slug -> folder path -> key -> value
    projects: dict[str, dict[str, dict[str, Secrets]]] = field(default_factory=dict)
    # (project, env, path) -> [(env, path)] imported, in order
    imports: dict[tuple[str, str, str], list[tuple[str, str]]] = field(default_factory=dict)
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (project, env)
    hidden: set[str] = field(default_factory=set)  # keys whose value the caller may not read
    environments: dict[str, list[str]] = field(default_factory=dict)  # project -> slugs
    token_ttl: int = 7200  # 0: tokens that do not expire
    tokens: dict[str, float] = field(default_factory=dict)  # live token -> expiry (0: never)
    v4: bool = True  # False: an older server, without GET /api/v4/secrets
    failed_logins: int = 0
    locked_until: float = 0.0
    injected: deque[Injected] = field(default_factory=deque)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_secrets(self, project: str, env: str, values: Secrets, path: str = "/") -> None:
        for key in values:  # what Infisical refuses in a secret's name
            if not key or ":" in key or "/" in key:
                raise ValueError(f"Infisical does not allow the secret name {key!r}")
        self.add_environment(project, env)
        self.projects.setdefault(project, {}).setdefault(env, {}).setdefault(path, {}).update(
            values
        )

    def add_environment(self, project: str, env: str) -> None:
        known = self.environments.setdefault(project, [])
        if env not in known:
            known.append(env)
        self.projects.setdefault(project, {}).setdefault(env, {})

    def revoke_all(self) -> None:
        """Revoke every access token server-side (the JWTs themselves stay unexpired)."""
        self.tokens.clear()

    def inject(self, status: int, times: int = 1, **kwargs: Any) -> None:
        for _ in range(times):
            self.injected.append(Injected(status, **kwargs))

    def count(self, path_prefix: str) -> int:
        return sum(1 for _method, path in self.requests if path.startswith(path_prefix))


def _secret(
    project: str, env: str, path: str, key: str, value: str, hidden: bool
) -> dict[str, Any]:
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project}/{env}{path}/{key}"))
    return {
        "id": ident,
        "_id": ident,
        "workspace": project,
        "environment": env,
        "version": 1,
        "type": "shared",
        "secretKey": key,
        "secretValue": "<hidden-by-infisical>" if hidden else value,
        "secretValueHidden": hidden,
        "secretComment": "",
        "secretPath": path,
        "skipMultilineEncoding": False,
        "tags": [],
        "secretMetadata": [],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        issues: list[dict[str, Any]] | None = None,
    ):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}
        self.issues = issues  # 422: Infisical's `message` is this array, not a string


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def state(self) -> ApiState:
        return self.server.state

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _send_error(self, err: _ApiError) -> None:
        self._send(
            err.status,
            {
                "reqId": f"req-{secrets.token_hex(6)}",
                "statusCode": err.status,
                "message": err.issues if err.issues is not None else err.message,
                "error": err.error,
            },
            err.headers,
        )

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        with self.state.lock:
            self.state.requests.append((method, url.path))
            injected = self._take_injection(url.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if injected is not None:
                self._injected(injected)
                return
            payload = self._route(method, url.path, parse_qs(url.query), body)
            self._send(200, payload)
        except _ApiError as err:
            self._send_error(err)

    def _take_injection(self, path: str) -> Injected | None:
        for injected in list(self.state.injected):
            if path.startswith(injected.path_prefix):
                self.state.injected.remove(injected)
                return injected
        return None

    def _injected(self, injected: Injected) -> None:
        if injected.status == 0:  # half a response, then the connection drops
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"secrets": [{"secretKey": "A", "secretVa')
            self.wfile.flush()
            self.close_connection = True
            return
        names = {
            401: "UnauthorizedError",
            403: "PermissionDenied",
            404: "NotFound",
            429: "RateLimitExceeded",
            500: "InternalServerError",
            503: "ServiceUnavailable",
        }
        headers = {}
        message = injected.message or "Something went wrong"
        if injected.status == 429:
            wait = injected.retry_after if injected.retry_after is not None else 1
            headers["Retry-After"] = str(wait)
            headers["x-ratelimit-limit"] = "60"
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = str(wait)
            message = injected.message or f"Rate limit exceeded. Please try again in {wait} seconds"
        raise _ApiError(injected.status, names.get(injected.status, "Error"), message, headers)

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    # -- routes ----------------------------------------------------------------------------
    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> dict[str, Any]:
        if method == "POST" and path == "/api/v1/auth/universal-auth/login":
            return self._login(json.loads(body or b"{}"))
        if method == "POST" and path == "/api/v1/auth/token/renew":
            return self._renew(json.loads(body or b"{}"))
        if method == "GET":
            for prefix, wrapper in (
                ("/api/v1/workspace/", "workspace"),
                ("/api/v1/projects/", "project"),
            ):
                if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                    self._authorize()
                    return {wrapper: self._project(unquote(path[len(prefix) :]))}
            for prefix, project_key in (
                ("/api/v3/secrets/raw", "workspaceId"),
                ("/api/v4/secrets", "projectId"),
            ):
                if prefix == "/api/v4/secrets" and not self.state.v4:
                    continue
                if path == prefix:
                    self._authorize()
                    return self._list(query, project_key)
                if path.startswith(prefix + "/"):
                    self._authorize()
                    return self._get(unquote(path[len(prefix) + 1 :]), query, project_key)
        raise _ApiError(404, "NotFound", f"Route {method}:{path} not found")

    def _issue(self) -> dict[str, Any]:
        # Like a JWT, the token carries its own expiry (0: none, as Infisical omits `exp`).
        ttl = self.state.token_ttl
        expiry = int(time.time() + ttl) if ttl > 0 else 0
        token = f"tok.{expiry}.{secrets.token_urlsafe(24)}"
        self.state.tokens[token] = expiry
        return {
            "accessToken": token,
            "expiresIn": ttl,
            "accessTokenMaxTTL": 2592000,
            "tokenType": "Bearer",
        }

    def _login(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            if time.time() < self.state.locked_until:
                raise _ApiError(
                    401,
                    "UnauthorizedError",
                    "Universal auth login is temporarily locked due to too many failed attempts",
                )
            client_id, client_secret = body.get("clientId"), body.get("clientSecret")
            if not client_id or self.state.identities.get(client_id) != client_secret:
                self.state.failed_logins += 1
                if self.state.failed_logins >= 3:
                    self.state.locked_until = time.time() + 300
                raise _ApiError(401, "UnauthorizedError", "Invalid credentials")
            self.state.failed_logins = 0
            return self._issue()

    def _renew(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            token = str(body.get("accessToken", ""))
            self._check_token(token)
            del self.state.tokens[token]
            return self._issue()

    def _check_token(self, token: str) -> None:
        """The JWT check first (expired or malformed: 403 TokenError), then the database."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "tok" or not parts[1].isdigit():
            raise _ApiError(403, "TokenError", "jwt malformed")
        expiry = int(parts[1])
        if expiry and expiry < time.time():
            raise _ApiError(403, "TokenError", "Your token has expired. Please re-authenticate.")
        if token not in self.state.tokens:  # revoked, deleted, or uses used up
            raise _ApiError(401, "UnauthorizedError", "No identity access token found")

    def _authorize(self) -> None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise _ApiError(401, "UnauthorizedError", "Token missing")
        with self.state.lock:
            self._check_token(header[len("Bearer ") :])

    def _member_of(self, project: str) -> None:
        if project not in self.state.projects:  # the identity cannot be a member of it
            raise _ApiError(
                403,
                f"Identity is not a member of the specified project with ID '{project}'",
                "You are not allowed to access this resource",
            )

    def _project(self, project: str) -> dict[str, Any]:
        self._member_of(project)
        slugs = self.state.environments.get(project) or list(self.state.projects[project])
        return {
            "id": project,
            "_id": project,
            "name": f"project {project}",
            "slug": project[:36],
            "environments": [
                {
                    "name": slug.title(),
                    "slug": slug,
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, slug)),
                }
                for slug in slugs
            ],
        }

    def _scope(self, query: dict[str, list[str]], project_key: str) -> tuple[str, str, str]:
        project = (query.get(project_key) or query.get("workspaceId") or [""])[0]
        env = (query.get("environment") or [""])[0]
        path = (query.get("secretPath") or ["/"])[0]
        issues = [
            {
                "code": "invalid_enum_value",
                "options": ["true", "false"],
                "path": ["query", key],
                "message": f"Invalid enum value. Expected 'true' | 'false', received '{values[0]}'",
            }
            for key, values in query.items()
            if key in _BOOLEANS and values[0] not in ("true", "false")
        ]
        if issues:
            raise _ApiError(422, "ValidationFailure", "Validation failed", issues=issues)
        if not project or not env:
            raise _ApiError(400, "BadRequest", "Missing project id or environment")
        if path != "/" and not all(_SEGMENT.match(p) for p in path.strip("/").split("/")):
            raise _ApiError(400, "BadRequest", "Invalid secret path")
        path = path.rstrip("/") or "/"
        self._member_of(project)
        if (project, env) in self.state.forbidden:
            raise _ApiError(403, "PermissionDenied", "You are not allowed to readValue on secrets")
        return project, env, path

    def _folder(self, project: str, env: str, path: str) -> list[dict[str, Any]]:
        values = self.state.projects[project].get(env, {}).get(path, {})  # unknown: empty
        return [
            _secret(project, env, path, k, v, k in self.state.hidden) for k, v in values.items()
        ]

    def _list(self, query: dict[str, list[str]], project_key: str) -> dict[str, Any]:
        project, env, path = self._scope(query, project_key)
        imports = []
        flags = (query.get("include_imports") or query.get("includeImports") or ["false"])[0]
        if flags == "true":
            for import_env, import_path in self.state.imports.get((project, env, path), []):
                imports.append(
                    {
                        "secretPath": import_path,
                        "environment": import_env,
                        "folderId": str(uuid.uuid4()),
                        "secrets": self._folder(project, import_env, import_path),
                    }
                )
        if flags != "true":  # Infisical leaves the key out when imports are off
            return {"secrets": self._folder(project, env, path)}
        return {"secrets": self._folder(project, env, path), "imports": imports}

    def _get(self, name: str, query: dict[str, list[str]], project_key: str) -> dict[str, Any]:
        project, env, path = self._scope(query, project_key)
        for secret in self._folder(project, env, path):
            if secret["secretKey"] == name:
                return {"secret": secret}
        raise _ApiError(404, "NotFound", f"Secret with name '{name}' not found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ApiState


class InfisicalServer:
    """`with InfisicalServer() as api:` then point clients at `api.url`."""

    def __init__(self, state: ApiState | None = None) -> None:
        self.state = state or ApiState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> InfisicalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
