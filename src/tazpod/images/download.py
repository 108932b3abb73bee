"""Downloads for image builds: streamed, hashed as they arrive, with progress and retries.

Only the host downloads (the image builds copy from their context), so the machine's
own certificate store and proxy settings apply, and a build needs no network at all.
`TAZPOD_ARTIFACT_MIRROR=http://mirror.example/` sends every download to
`<mirror>/<host>/<path>` instead: one setting for an air-gapped network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tazpod.engines.base import Progress
from tazpod.errors import ArtifactError

MIRROR_ENV = "TAZPOD_ARTIFACT_MIRROR"
USER_AGENT = "tazpod"
CHUNK = 1 << 20
MAX_BYTES = 1 << 30  # no tool of a vertical comes near; a runaway server stops here
ATTEMPTS = 3
PROGRESS_EVERY = 2.0  # seconds between progress lines

T = TypeVar("T")


def mirrored(url: str, mirror: str | None = None) -> str:
    """The URL to ask: the vendor's, or its place on the configured mirror."""
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV, "")
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    if urllib.parse.urlsplit(mirror).scheme not in ("http", "https"):
        raise ArtifactError(
            f"{MIRROR_ENV}={mirror!r} is not an http(s) URL",
            hint=f"set it like {MIRROR_ENV}=https://mirror.example/tools, or unset it",
        )
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    # _retrying admitted only http(s) URLs
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    answer: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    return answer


def _retrying(url: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt``, retrying network errors and 5xx; 4xx fail at once."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ArtifactError(f"{url} is not an http(s) URL")
    for number in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except urllib.error.HTTPError as err:
            if err.code < 500 or number == ATTEMPTS:
                raise ArtifactError(
                    f"downloading {url} failed: HTTP {err.code} {err.reason}",
                    hint="check the version in the vertical's artifacts.toml, or your "
                    f"{MIRROR_ENV} (it must hold <host>/<path> of each download)",
                ) from err
        except (urllib.error.URLError, OSError) as err:
            if number == ATTEMPTS:
                reason = getattr(err, "reason", err)
                raise ArtifactError(
                    f"downloading {url} failed: {reason}",
                    hint=f"check the network; an offline machine can set {MIRROR_ENV}",
                ) from err
        time.sleep(0.5 * 2**number)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def fetch_text(url: str, timeout: float = 30.0) -> str:
    """A small document (a checksum list, registry metadata)."""

    def attempt() -> bytes:
        with _open(url, timeout) as answer:
            data: bytes = answer.read(CHUNK + 1)
        if len(data) > CHUNK:
            raise ArtifactError(f"{url} is larger than a checksum document can be")
        return data

    return _retrying(url, attempt).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Digests:
    sha256: str
    sha512: bytes  # raw digest: the npm registry's integrity is sha512


def fetch_file(url: str, target: Path, label: str, progress: Progress) -> Digests:
    """Stream ``url`` into ``target`` (created 0600), hashing as it goes."""

    def attempt() -> Digests:
        sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
        with _open(url, 60.0) as answer, target.open("wb") as out:
            os.fchmod(out.fileno(), 0o600)
            total = int(answer.headers.get("Content-Length") or 0)
            shown = time.monotonic()
            progress(f"downloading {label} ({_mib(total)})" if total else f"downloading {label}")
            while chunk := answer.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ArtifactError(f"{url} is larger than {_mib(MAX_BYTES)}; refused")
                sha256.update(chunk)
                sha512.update(chunk)
                out.write(chunk)
                if time.monotonic() - shown >= PROGRESS_EVERY:
                    shown = time.monotonic()
                    progress(f"  {label}: {_mib(size)}" + (f" of {_mib(total)}" if total else ""))
        if total and size != total:
            raise OSError(f"the connection closed after {size} of {total} bytes")
        return Digests(sha256.hexdigest(), sha512.digest())

    return _retrying(url, attempt)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
