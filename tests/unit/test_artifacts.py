"""The verticals' tools: manifests, vendor checksums, the project's pins, the cache."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod.errors import ArtifactError
from tazpod.images.artifacts import LOCK_FILE, Lock, load_artifacts, stage, vendor_sha256
from tazpod.images.download import MIRROR_ENV, mirrored
from tazpod.images.stack import IMAGES
from tazpod.project.config import VERTICALS, vertical_chain
from tests.support.mirror import Mirror, publish_releases, serve, tar_gz

K8S = IMAGES / "k8s" / "artifacts.toml"


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Mirror]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with serve(Mirror()) as running:
        monkeypatch.setenv(MIRROR_ENV, running.url)
        yield running


def test_every_vertical_has_a_dockerfile_and_valid_tools() -> None:
    assert vertical_chain("gemini") == ["base", "infisical", "k8s", "gemini"]
    targets: set[str] = set()
    for vertical in VERTICALS:
        dockerfile = (IMAGES / vertical / "Dockerfile").read_text()
        assert f'dev.tazpod.vertical="{vertical}"' in dockerfile
        assert "COPY tools/ /usr/local/" in dockerfile
        if vertical != "base":  # (the base installs curl, and clones LazyVim's starter)
            assert "FROM ${TAZPOD_BASE}" in dockerfile
            assert "curl" not in dockerfile and "wget" not in dockerfile  # nothing downloads
        for artifact in load_artifacts(IMAGES / vertical / "artifacts.toml"):
            assert artifact.target not in targets
            targets.add(artifact.target)
            for url in (artifact.url, artifact.sha256_url):
                assert url is None or url.startswith("https://"), url
            assert "{" not in artifact.key and artifact.version in artifact.key


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[kubectl\n", "line 1"),
        ('[a]\nversion = "1"\ntarget = "bin/a"\nurl = "https://x/a"\n', "needs either npm"),
        ('[a]\nversion = "1"\ntarget = "bin/a"\nnpm = "a"\ncolour = "red"\n', "unknown key"),
        ('[a]\nversion = "1"\ntarget = "../a"\nnpm = "a"\n', "relative path"),
        ('[a]\nversion = 1\ntarget = "bin/a"\nnpm = "a"\n', "version must be a string"),
        ('[a]\nversion = "1"\ntarget = "bin/a"\nnpm = "a"\nunless = "0"\n', "NAME=value"),
        ('[a]\nversion = "1"\ntarget = "bin/a"\nnpm = "a"\narch = "x"\n', "arch must be a table"),
    ],
)
def test_a_bad_manifest_names_file_and_entry(tmp_path: Path, text: str, error: str) -> None:
    listing = tmp_path / "artifacts.toml"
    listing.write_text(text)
    with pytest.raises(ArtifactError) as caught:
        load_artifacts(listing)
    assert str(listing) in caught.value.message and error in caught.value.message


def test_vendor_checksum_formats() -> None:
    digest = "ab" * 32
    assert vendor_sha256(f"{digest}\n", "kubectl", "u") == digest
    assert vendor_sha256(f"{'cd' * 32}  a.tgz\n{digest} *b.tgz\n", "b.tgz", "u") == digest
    with pytest.raises(ArtifactError, match=r"https://v/sums lists no sha256 for c\.tgz"):
        vendor_sha256(f"{digest}  b.tgz\n", "c.tgz", "https://v/sums")


def test_mirror_layout_and_bad_mirror() -> None:
    assert mirrored("https://dl.k8s.io/a/b", "http://m:8/x/") == "http://m:8/x/dl.k8s.io/a/b"
    assert mirrored("https://dl.k8s.io/a", "") == "https://dl.k8s.io/a"
    with pytest.raises(ArtifactError, match="not an http"):
        mirrored("https://dl.k8s.io/a", "ftp://m")


def test_first_build_pins_later_builds_use_the_cache(mirror: Mirror, tmp_path: Path) -> None:
    printed = publish_releases(mirror, K8S)
    tools, seen = tmp_path / "tools", list[str]()
    stage(K8S, tmp_path, tools, seen.append)
    for name in ("kubectl", "helm", "k9s", "stern", "talosctl"):
        binary = tools / "bin" / name
        assert binary.stat().st_mode & 0o777 == 0o755
        assert printed[name] in binary.read_text()
    pins = json.loads((tmp_path / LOCK_FILE).read_text())["artifacts"]
    assert len(pins) == 5
    helm = next(pin for key, pin in pins.items() if key.startswith("helm@3."))
    assert helm["source"].startswith("https://get.helm.sh/")
    assert any(line.startswith("downloading helm") for line in seen)
    assert sum("pinned sha256" in line for line in seen) == 5

    mirror.files.clear()  # the network is gone: pinned and cached tools still build
    requests = len(mirror.requests)
    seen.clear()
    stage(K8S, tmp_path, tmp_path / "again", seen.append)
    assert len(mirror.requests) == requests
    assert (tmp_path / "again" / "bin" / "kubectl").read_bytes() == (
        tools / "bin" / "kubectl"
    ).read_bytes()
    assert sum("cached" in line for line in seen) == 5


def test_a_download_unlike_its_pin_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    publish_releases(mirror, K8S)
    stage(K8S, tmp_path, tmp_path / "tools", lambda _m: None)
    lock_before = (tmp_path / LOCK_FILE).read_bytes()
    for cached in (tmp_path / "cache" / "tazpod" / "artifacts").iterdir():
        cached.unlink()
    # The vendor (or someone in between) re-published kubectl, checksum file included.
    (kubectl,) = [a for a in load_artifacts(K8S) if a.name == "kubectl"]
    assert kubectl.url is not None and kubectl.sha256_url is not None
    body = b"#!/bin/sh\necho other\n"
    mirror.put(kubectl.url, body)
    mirror.put(kubectl.sha256_url, hashlib.sha256(body).hexdigest().encode())
    with pytest.raises(ArtifactError) as caught:
        stage(K8S, tmp_path, tmp_path / "tools2", lambda _m: None)
    assert str(tmp_path / LOCK_FILE) in caught.value.message
    assert kubectl.key in caught.value.message
    assert caught.value.hint is not None and "delete that entry" in caught.value.hint
    assert (tmp_path / LOCK_FILE).read_bytes() == lock_before


def test_a_download_unlike_the_vendor_checksum_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    publish_releases(mirror, K8S)
    (helm,) = [a for a in load_artifacts(K8S) if a.name == "helm"]
    assert helm.url is not None
    mirror.put(helm.url, tar_gz({"linux-amd64/helm": b"tampered"}))
    with pytest.raises(ArtifactError, match="does not match the vendor's"):
        stage(K8S, tmp_path, tmp_path / "tools", lambda _m: None)
    pins = json.loads((tmp_path / LOCK_FILE).read_text())["artifacts"]
    assert not any(key.startswith("helm@") for key in pins)  # kubectl (before it) is pinned
    cache = tmp_path / "cache" / "tazpod" / "artifacts"
    assert not [p for p in cache.iterdir() if p.name.startswith(".part-")]


def _npm_listing(tmp_path: Path, mirror: Mirror, members: dict[str, bytes]) -> Path:
    tarball = tar_gz(members, {"package/bin/tool.js": 0o755})
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    url = "https://registry.npmjs.org/demo/-/demo-1.0.0.tgz"
    mirror.put(url, tarball)
    meta = {"dist": {"tarball": url, "integrity": integrity}}
    mirror.put("https://registry.npmjs.org/demo/1.0.0", json.dumps(meta).encode())
    listing = tmp_path / "artifacts.toml"
    listing.write_text(
        '[demo]\nversion = "1.0.0"\nnpm = "demo"\ntree = "package"\ntarget = "lib/demo"\n'
    )
    return listing


def test_npm_package_unpacked_after_its_integrity(mirror: Mirror, tmp_path: Path) -> None:
    members = {"package/package.json": b"{}", "package/bin/tool.js": b"#!/usr/bin/env node\n"}
    listing = _npm_listing(tmp_path, mirror, members)
    stage(listing, tmp_path, tmp_path / "tools", lambda _m: None)
    tool = tmp_path / "tools" / "lib" / "demo" / "bin" / "tool.js"
    assert tool.read_bytes() == b"#!/usr/bin/env node\n" and tool.stat().st_mode & 0o111
    assert (tmp_path / "tools" / "lib" / "demo" / "package.json").stat().st_mode & 0o777 == 0o644

    mirror.put("https://registry.npmjs.org/demo/-/demo-1.0.0.tgz", b"not the package")
    (tmp_path / LOCK_FILE).unlink()
    for cached in (tmp_path / "cache" / "tazpod" / "artifacts").iterdir():
        cached.unlink()
    with pytest.raises(ArtifactError, match="does not match the npm registry's integrity"):
        stage(listing, tmp_path, tmp_path / "tools2", lambda _m: None)


def test_unsafe_archive_paths_are_refused(mirror: Mirror, tmp_path: Path) -> None:
    listing = _npm_listing(tmp_path, mirror, {"package/../../escape": b"x"})
    with pytest.raises(ArtifactError, match="unsafe path"):
        stage(listing, tmp_path, tmp_path / "tools", lambda _m: None)
    assert not (tmp_path / "escape").exists()


def test_missing_download_explains_the_mirror(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as caught:
        stage(K8S, tmp_path, tmp_path / "tools", lambda _m: None)
    assert "HTTP 404" in caught.value.message and mirror.url in caught.value.message
    assert caught.value.hint is not None and MIRROR_ENV in caught.value.hint


def test_a_broken_lock_file_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("{not json")
    with pytest.raises(ArtifactError) as caught:
        Lock(tmp_path / LOCK_FILE)
    assert str(tmp_path / LOCK_FILE) in caught.value.message
    assert caught.value.hint is not None and "restore it from git" in caught.value.hint
    (tmp_path / LOCK_FILE).write_text('{"artifacts": {"a@1 linux/amd64": {"sha256": "x"}}}')
    with pytest.raises(ArtifactError, match="a@1 linux/amd64: sha256 is missing or malformed"):
        Lock(tmp_path / LOCK_FILE)


def test_a_new_version_replaces_the_old_pin(mirror: Mirror, tmp_path: Path) -> None:
    listing = tmp_path / "artifacts.toml"
    for version in ("1.0.0", "1.1.0"):
        listing.write_text(
            f'[tool]\nversion = "{version}"\ntarget = "bin/tool"\n'
            'url = "https://example.org/tool-{version}"\n'
            'sha256 = "https://example.org/tool-{version}.sha256"\n'
        )
        publish_releases(mirror, listing)
        stage(listing, tmp_path, tmp_path / version, lambda _m: None)
    pins = json.loads((tmp_path / LOCK_FILE).read_text())["artifacts"]
    assert [key.split(" ")[0] for key in pins] == ["tool@1.1.0"]


def test_neovim_only_for_lazyvim_and_named_as_neovim_names_arches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = IMAGES / "base" / "artifacts.toml"
    for machine, arch in (("x86_64", "x86_64"), ("aarch64", "arm64")):
        monkeypatch.setattr("platform.machine", lambda machine=machine: machine)
        (neovim,) = load_artifacts(base)
        assert neovim.url is not None and neovim.url.endswith(f"/nvim-linux-{arch}.tar.gz")
        assert neovim.tree == f"nvim-linux-{arch}" and neovim.target == "."
    assert load_artifacts(base, {"WITH_LAZYVIM": "0"}) == []
    assert len(load_artifacts(base, {"WITH_LAZYVIM": "1"})) == 1


def test_a_tree_lands_under_usr_local(mirror: Mirror, tmp_path: Path) -> None:
    base = IMAGES / "base" / "artifacts.toml"
    printed = publish_releases(mirror, base)
    stage(base, tmp_path, tmp_path / "tools", lambda _m: None, {"WITH_LAZYVIM": "1"})
    nvim = tmp_path / "tools" / "bin" / "neovim"
    assert printed["neovim"] in nvim.read_text() and nvim.stat().st_mode & 0o111
    stage(base, tmp_path, tmp_path / "none", lambda _m: None, {"WITH_LAZYVIM": "0"})
    assert list((tmp_path / "none").iterdir()) == []  # copied by the Dockerfile, empty
