"""A small JSON-over-HTTPS client with bounded retries (standard library only).

429 waits for Retry-After (bounded); 5xx, dropped connections and network
errors back off exponentially; everything else is returned to the caller as
an ApiError. Request bodies and tokens never appear in errors.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

USER_AGENT = "tazpod"


class ApiError(Exception):
    """The server answered with an error status."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message


class TransportError(Exception):
    """No usable answer after every retry (network, 5xx, throttling)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.5  # first pause; doubles each time
    max_retry_after: float = 60.0  # never wait longer than this for one 429
    sleep: Callable[[float], None] = field(default=time.sleep)


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())


def _error_of(status: int, body: bytes) -> ApiError:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    return ApiError(status, str(payload.get("error", "")), _message_of(payload.get("message")))


def _message_of(message: Any) -> str:
    """A string, or (422 ValidationFailure) a list of issues: `path: message` each."""
    if not isinstance(message, list):
        return "" if message is None else str(message)
    issues = []
    for issue in message:
        if isinstance(issue, dict):
            where = ".".join(str(p) for p in issue.get("path") or [])
            text = str(issue.get("message", ""))
            issues.append(f"{where}: {text}" if where else text)
        else:
            issues.append(str(issue))
    return "; ".join(issues)


class JsonClient:
    def __init__(self, base_url: str, timeout: float = 20.0, retry: RetryPolicy | None = None):
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.requests_made = 0

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        pause = self.retry.backoff
        last = "no attempt was made"
        last_status: int | None = None
        for attempt in range(1, self.retry.attempts + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (scheme checked in __init__)
            self.requests_made += 1
            wait = pause
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    payload = json.loads(response.read())
                if not isinstance(payload, dict):
                    raise ValueError("not a JSON object")
                return payload
            except urllib.error.HTTPError as err:
                status, raw = err.code, err.read()
                if status == 429:
                    wait = min(
                        _retry_after(err.headers.get("Retry-After"), pause),
                        self.retry.max_retry_after,
                    )
                    last, last_status = "the server is throttling requests (429)", 429
                elif status >= 500:
                    last, last_status = f"the server failed ({status})", status
                else:
                    raise _error_of(status, raw) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                reason = getattr(err, "reason", None) or type(err).__name__
                last, last_status = f"no usable answer from {self.base_url} ({reason})", None
            if attempt < self.retry.attempts:
                self.retry.sleep(wait)
                pause *= 2
        raise TransportError(f"{last}, after {self.retry.attempts} attempts", last_status)
