"""A download mirror on loopback, laid out as TAZPOD_ARTIFACT_MIRROR expects (<host>/<path>).

Files the test puts in ``files`` are served as they are; a path under one of the
``upstream`` hosts is fetched from the real host (the tests' way to use the real npm
registry through the mirror). Every request path is recorded.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Mirror:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)  # "host/path" -> body
    upstream: tuple[str, ...] = ()
    requests: list[str] = field(default_factory=list)

    def put(self, vendor_url: str, body: bytes) -> None:
        self.files[vendor_url.split("://", 1)[1]] = body


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            key = self.path.lstrip("/")
            mirror.requests.append(key)
            body = mirror.files.get(key)
            if body is None and key.split("/", 1)[0] in mirror.upstream:
                request = urllib.request.Request(f"https://{key}", headers={"User-Agent": "t"})
                with urllib.request.urlopen(request, timeout=120) as answer:
                    body = answer.read()
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(mirror: Mirror) -> Iterator[Mirror]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mirror))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()


def tool_script(name: str, version: str) -> bytes:
    """A stand-in for a vendor's binary: prints its name and version."""
    return f"#!/bin/sh\necho '{name} {version} (test build)'\n".encode()


def tar_gz(members: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


def publish_releases(mirror: Mirror, listing: Path) -> dict[str, str]:
    """Put a vendor-style release of every url-kind tool of an artifacts.toml on the mirror.

    Returns tool name -> the text its stand-in binary prints. The checksum file is in the
    vendor's format: one bare hash for a `.sha256` URL, `hash  filename` lines otherwise.
    """
    import hashlib

    from tazpod.images.artifacts import load_artifacts

    printed = {}
    for artifact in load_artifacts(listing):
        if artifact.url is None or artifact.sha256_url is None:
            continue
        script = tool_script(artifact.name, artifact.version)
        # A tree (a whole install prefix, like Neovim's) gets the stand-in as bin/<name>.
        inside = artifact.member or (
            f"{artifact.tree}/bin/{artifact.name}" if artifact.tree else ""
        )
        body = tar_gz({inside: script}, {inside: 0o755}) if inside else script
        mirror.put(artifact.url, body)
        digest = hashlib.sha256(body).hexdigest()
        filename = artifact.url.rsplit("/", 1)[1]
        if artifact.sha256_url.endswith(".sha256"):
            mirror.put(artifact.sha256_url, f"{digest}\n".encode())
        else:
            other = hashlib.sha256(b"another file").hexdigest()
            text = f"{other}  other_file.tar.gz\n{digest}  {filename}\n"
            previous = mirror.files.get(artifact.sha256_url.split("://", 1)[1], b"")
            mirror.put(artifact.sha256_url, previous + text.encode())
        printed[artifact.name] = script.decode().split("'")[1]
    return printed
