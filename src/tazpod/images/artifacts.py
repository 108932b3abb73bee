"""The verticals' third-party tools: pinned, checked twice, fetched on the host.

Each vertical lists its tools in ``images/<vertical>/artifacts.toml`` (read by
tazpod.images.manifest). `tazpod build` downloads each on the host, checks it
against the vendor's checksum, and pins its sha256 in the project's
``.tazpod/artifacts.lock`` on first use (tazpod.images.lock); a later download that
differs from the pin is refused. Files are cached per user by sha256; a pinned,
cached tool needs no network. The build context receives the unpacked files under
``tools/``; no Dockerfile downloads.
"""

from __future__ import annotations

import base64
import json
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from tazpod.engines.base import Progress
from tazpod.errors import ArtifactError
from tazpod.images.download import fetch_file, fetch_text, file_sha256, mirrored
from tazpod.images.lock import HEX64, LOCK_FILE, Lock
from tazpod.images.manifest import Artifact, load_artifacts
from tazpod.project.paths import user_cache_dir
from tazpod.sysio.files import make_private_dir

__all__ = ["LOCK_FILE", "Lock", "load_artifacts", "obtain", "stage", "unpack", "vendor_sha256"]

NPM_REGISTRY = "https://registry.npmjs.org"


def vendor_sha256(listing: str, filename: str, source: str) -> str:
    """The sha256 for ``filename`` in a vendor's checksum file (bare, or `hash  name` lines)."""
    lines = [line.split() for line in listing.splitlines() if line.strip()]
    if len(lines) == 1 and len(lines[0]) == 1 and HEX64.match(lines[0][0]):
        return lines[0][0].lower()
    for fields in lines:
        if len(fields) >= 2 and HEX64.match(fields[0]) and fields[-1].lstrip("*") == filename:
            return fields[0].lower()
    raise ArtifactError(f"{source} lists no sha256 for {filename}")


def _npm_source(artifact: Artifact) -> tuple[str, str]:
    """(tarball URL, sha512 integrity) from the npm registry's entry for this version."""
    meta_url = f"{NPM_REGISTRY}/{artifact.npm}/{artifact.version}"
    text = fetch_text(mirrored(meta_url))
    try:
        dist = json.loads(text)["dist"]
        tarball, integrity = str(dist["tarball"]), str(dist["integrity"])
    except (ValueError, KeyError, TypeError) as err:
        raise ArtifactError(f"{meta_url}: the registry's answer has no dist.integrity") from err
    if not integrity.startswith("sha512-"):
        raise ArtifactError(f"{meta_url}: integrity {integrity[:20]}... is not sha512")
    return tarball, integrity


def _download(artifact: Artifact, cache: Path, progress: Progress) -> tuple[str, Path, str]:
    """Fetch and check against the vendor's checksum: (source URL, cached file, sha256)."""
    label = f"{artifact.name} {artifact.version}"
    if artifact.npm is not None:
        source, integrity = _npm_source(artifact)
    else:
        assert artifact.url is not None and artifact.sha256_url is not None
        source = artifact.url
        listing = fetch_text(mirrored(artifact.sha256_url))
        expected = vendor_sha256(listing, source.rsplit("/", 1)[-1], artifact.sha256_url)
    with tempfile.NamedTemporaryFile(dir=cache, prefix=".part-", delete=False) as handle:
        part = Path(handle.name)
    try:
        got = fetch_file(mirrored(source), part, label, progress)
        if artifact.npm is not None:
            actual = "sha512-" + base64.b64encode(got.sha512).decode()
            if actual != integrity:
                raise ArtifactError(
                    f"{label}: the download's sha512 does not match the npm registry's"
                    f" integrity for {artifact.npm}@{artifact.version}",
                    hint="the file was altered on the way (mirror, proxy); do not use it",
                )
        elif got.sha256 != expected:
            raise ArtifactError(
                f"{label}: the download's sha256 {got.sha256} does not match the vendor's"
                f" {expected} ({artifact.sha256_url})",
                hint="the file was altered on the way (mirror, proxy); do not use it",
            )
        cached = cache / got.sha256
        part.replace(cached)
        return source, cached, got.sha256
    finally:
        part.unlink(missing_ok=True)


def obtain(artifact: Artifact, lock: Lock, cache: Path, progress: Progress) -> Path:
    """The verified file for ``artifact``: from the cache when pinned, else downloaded."""
    pinned = lock.pinned(artifact)
    if pinned is not None:
        cached = cache / pinned
        if cached.is_file() and file_sha256(cached) == pinned:
            progress(f"{artifact.name} {artifact.version}: cached, matches {lock.path.name}")
            return cached
    source, cached, sha256 = _download(artifact, cache, progress)
    if pinned is not None and sha256 != pinned:
        cached.unlink(missing_ok=True)
        raise ArtifactError(
            f"{lock.path}: {artifact.key} is pinned to sha256 {pinned}, but the download"
            f" from {source} is {sha256}",
            hint="if the vendor re-published it on purpose, delete that entry to pin the new"
            " file; otherwise treat this download as tampered",
        )
    if pinned is None:
        lock.pin(artifact, source, sha256)
        progress(f"{artifact.name} {artifact.version}: pinned sha256 {sha256[:16]}...")
    return cached


def unpack(artifact: Artifact, file: Path, tools: Path) -> None:
    """Place the verified file (or the part of its archive) at tools/<target>."""
    target = tools / artifact.target
    target.parent.mkdir(parents=True, exist_ok=True)
    if artifact.member is None and artifact.tree is None:
        shutil.copyfile(file, target)
        target.chmod(0o755)
        return
    try:
        with tarfile.open(file, "r:*") as archive:
            if artifact.member is not None:
                _take_member(archive, artifact, target)
            else:
                _take_tree(archive, artifact, target)
    except tarfile.TarError as err:
        raise ArtifactError(f"{artifact.name} {artifact.version}: not a readable archive") from err


def _take_member(archive: tarfile.TarFile, artifact: Artifact, target: Path) -> None:
    try:
        info = archive.getmember(artifact.member or "")
    except KeyError as err:
        raise ArtifactError(
            f"{artifact.name} {artifact.version}: the archive has no {artifact.member}"
        ) from err
    source = archive.extractfile(info) if info.isfile() else None
    if source is None:
        raise ArtifactError(f"{artifact.name}: {artifact.member} is not a regular file")
    with source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    target.chmod(0o755)


def _take_tree(archive: tarfile.TarFile, artifact: Artifact, target: Path) -> None:
    """Unpack the regular files and directories under ``tree``; refuse anything else."""
    prefix = (artifact.tree or "").rstrip("/") + "/"
    count = 0
    for member in archive.getmembers():
        if not member.name.startswith(prefix) or member.name == prefix:
            continue
        relative = PurePosixPath(member.name[len(prefix) :])
        if relative.is_absolute() or ".." in relative.parts:
            raise ArtifactError(f"{artifact.name}: unsafe path {member.name!r} in the archive")
        path = target.joinpath(*relative.parts)
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        source = archive.extractfile(member) if member.isfile() else None
        if source is None:  # links, devices, fifos: a package needs none of them
            raise ArtifactError(f"{artifact.name}: {member.name!r} is not a regular file")
        path.parent.mkdir(parents=True, exist_ok=True)
        with source, path.open("wb") as out:
            shutil.copyfileobj(source, out)
        path.chmod(0o755 if member.mode & 0o111 else 0o644)
        count += 1
    if count == 0:
        raise ArtifactError(f"{artifact.name}: the archive has nothing under {prefix}")


def stage(
    listing: Path,
    project_dir: Path,
    tools: Path,
    progress: Progress,
    build_args: Mapping[str, str] | None = None,
) -> None:
    """Fetch every tool of one artifacts.toml into ``tools``; save the lock."""
    lock = Lock(project_dir / LOCK_FILE)
    cache = user_cache_dir() / "artifacts"
    make_private_dir(cache)
    tools.mkdir(parents=True, exist_ok=True)  # the Dockerfile copies it, even when empty
    try:
        for artifact in load_artifacts(listing, build_args):
            unpack(artifact, obtain(artifact, lock, cache, progress), tools)
    finally:
        lock.save()  # pins of the tools that did verify stay, even if a later one failed
