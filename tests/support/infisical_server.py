"""A local Infisical API server for tests and benchmarks.

It reproduces what tazpod and Infisical's official Python SDK rely on, as
Infisical's own sources define it (see shared/infisical-api.md): universal-auth
login and token renewal, the v3 raw and v4 secrets list/get endpoints with
their query parameters and JSON shapes, imports (local keys win; later
imports win), error bodies {reqId, statusCode, message, error}, token expiry,
the 3-failure login lock-out, and 401/403/404/429 (with Retry-After)/500 or a
dropped connection on demand. Loopback only.
"""

from __future__ import annotations

import json
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
    token_ttl: int = 7200
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    failed_logins: int = 0
    locked_until: float = 0.0
    injected: deque[Injected] = field(default_factory=deque)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_secrets(self, project: str, env: str, values: Secrets, path: str = "/") -> None:
        self.projects.setdefault(project, {}).setdefault(env, {}).setdefault(path, {}).update(
            values
        )

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
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}


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
            self._send(
                err.status,
                {
                    "reqId": f"req-{secrets.token_hex(6)}",
                    "statusCode": err.status,
                    "message": err.message,
                    "error": err.error,
                },
                err.headers,
            )

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
            for prefix, project_key in (
                ("/api/v3/secrets/raw", "workspaceId"),
                ("/api/v4/secrets", "projectId"),
            ):
                if path == prefix:
                    self._authorize()
                    return self._list(query, project_key)
                if path.startswith(prefix + "/"):
                    self._authorize()
                    return self._get(unquote(path[len(prefix) + 1 :]), query, project_key)
        raise _ApiError(404, "NotFound", f"Route {method}:{path} not found")

    def _issue(self) -> dict[str, Any]:
        token = "tok." + secrets.token_urlsafe(24)
        self.state.tokens[token] = time.time() + self.state.token_ttl
        return {
            "accessToken": token,
            "expiresIn": self.state.token_ttl,
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
            token = body.get("accessToken", "")
            if self.state.tokens.get(token, 0) < time.time():
                raise _ApiError(401, "UnauthorizedError", "Access token expired or invalid")
            del self.state.tokens[token]
            return self._issue()

    def _authorize(self) -> None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise _ApiError(401, "UnauthorizedError", "Token missing")
        expiry = self.state.tokens.get(header[len("Bearer ") :])
        if expiry is None or expiry < time.time():
            raise _ApiError(403, "TokenError", "Your token has expired. Please re-authenticate.")

    def _scope(self, query: dict[str, list[str]], project_key: str) -> tuple[str, str, str]:
        project = (query.get(project_key) or query.get("workspaceId") or [""])[0]
        env = (query.get("environment") or [""])[0]
        path = (query.get("secretPath") or ["/"])[0]
        if not project or not env:
            raise _ApiError(400, "BadRequest", "Missing project id or environment")
        if project not in self.state.projects:
            raise _ApiError(404, "NotFound", f"Project with ID {project} not found")
        if env not in self.state.projects[project]:
            raise _ApiError(
                404,
                "NotFound",
                f"Environment with slug '{env}' in project with ID {project} not found",
            )
        if (project, env) in self.state.forbidden:
            raise _ApiError(403, "PermissionDenied", "You are not allowed to readValue on secrets")
        return project, env, path

    def _folder(self, project: str, env: str, path: str) -> list[dict[str, Any]]:
        values = self.state.projects[project].get(env, {}).get(path, {})
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
