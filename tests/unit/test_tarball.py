"""Unpacking refuses every hostile archive shape; packing round-trips the tree."""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
from pathlib import Path

import pytest

from tazpod.errors import VaultError
from tazpod.vault import tarball


def archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o600
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    return info


def test_round_trip_keeps_modes_links_and_skips_control_dir(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "key").write_bytes(b"k")
    os.chmod(tree / "sub" / "key", 0o640)
    os.symlink("sub/key", tree / "link")
    (tree / ".tazpod").mkdir()
    (tree / ".tazpod" / "control.sock").write_text("not sealed")
    (tree / ".gemini-vault").mkdir()  # a bridge's directory: no entry to count (issue 13)
    out = tmp_path / "out"
    out.mkdir()
    assert tarball.unpack(tarball.pack(tree), out) == 2  # files and links, not directories
    assert (out / "sub" / "key").read_bytes() == b"k"
    assert stat.S_IMODE((out / "sub" / "key").stat().st_mode) == 0o640
    assert os.readlink(out / "link") == "sub/key"
    assert not (out / ".tazpod").exists()


def test_empty_archive(tmp_path: Path) -> None:
    assert tarball.unpack(tarball.pack_empty(), tmp_path) == 0


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([(entry("/etc/evil"), b"x")], "absolute or contains '..'"),
        ([(entry("../evil"), b"x")], "absolute or contains '..'"),
        ([(entry("a/../../evil"), b"x")], "absolute or contains '..'"),
        ([(entry("l", tarfile.SYMTYPE, "/etc"), None)], "points outside the vault"),
        ([(entry("l", tarfile.SYMTYPE, "../.."), None)], "points outside the vault"),
        ([(entry("d/l", tarfile.SYMTYPE, "../../x"), None)], "points outside the vault"),
        (
            [(entry("d", tarfile.SYMTYPE, "."), None), (entry("d/e", tarfile.SYMTYPE, ".."), None)],
            "lies under a symlink",
        ),
        ([(entry("h", tarfile.LNKTYPE, "/etc/shadow"), None)], "not an earlier entry"),
        ([(entry(".tazpod/control.sock"), b"x")], "reserved entry"),
    ],
)
def test_hostile_archives_are_refused(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], reason: str
) -> None:
    with pytest.raises(VaultError, match=re.escape(reason)):
        tarball.unpack(archive(*members), tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert not Path("/etc/evil").exists()


def test_fifos_and_devices_are_skipped_not_extracted(tmp_path: Path) -> None:
    count = tarball.unpack(
        archive(
            (entry("fifo", tarfile.FIFOTYPE), None),
            (entry("dev", tarfile.CHRTYPE), None),
            (entry("kept"), b"k"),
        ),
        tmp_path,
    )
    assert count == 1 and [p.name for p in tmp_path.iterdir()] == ["kept"]


def test_streamed_seal_round_trips_and_skips_control_dir(tmp_path: Path) -> None:
    import pyrage

    from tazpod.vault.age_files import RamVault, VaultKey

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "key").write_bytes(b"k" * 100_000)
    os.chmod(tree / "sub" / "key", 0o640)
    os.symlink("sub/key", tree / "link")
    os.mkfifo(tree / "pipe")
    (tree / ".tazpod").mkdir()
    (tree / ".tazpod" / "state").write_text("not sealed")
    key = VaultKey(pyrage.x25519.Identity.generate(), requires_seal=True)
    vault = RamVault(tmp_path / "vault")
    # What an open would refuse is left out of the save, not sealed to lock the vault for
    # good (issue 19's review: a granted agent made one in a bridge): a link out of the tree
    os.symlink("/etc/hostname", tree / "sub" / "out-abs")
    os.symlink("../../x", tree / "sub" / "out-rel")
    os.link(tree / "link", tree / "link-again", follow_symlinks=False)  # a hard link to a link
    os.link(tree / "pipe", tree / "pipe-again")  # ... and to a FIFO: no hard link entries
    os.link(tree / "sub" / "key", tree / "key-again")
    size, left_out = vault.seal_tree(tree, key.recipient, key.seal_key, None)
    assert size > 100_000 and left_out == ["sub/out-abs", "sub/out-rel"]
    assert tarball.unsafe_links(str(tree), ["sub"], limit=1000) == [
        "sub/key",  # larger than a vault of 1000 bytes could hold
        "sub/out-abs",
        "sub/out-rel",
    ]
    out = tmp_path / "out"
    out.mkdir()
    archive, sealed = vault.open_archive(key)
    assert sealed
    tarball.unpack(archive, out)
    assert (out / "sub" / "key").read_bytes() == b"k" * 100_000
    assert stat.S_IMODE((out / "sub" / "key").stat().st_mode) == 0o640
    assert os.readlink(out / "link") == "sub/key"
    assert not (out / ".tazpod").exists() and not (out / "pipe").exists()
    assert not os.path.lexists(out / "sub" / "out-abs")
    assert os.readlink(out / "link-again") == "sub/key"
    assert (out / "key-again").read_bytes() == b"k" * 100_000


def test_setuid_bits_are_stripped(tmp_path: Path) -> None:
    tarball.unpack(archive((entry("tool", mode=0o4755), b"#!/bin/sh\n")), tmp_path)
    assert stat.S_IMODE((tmp_path / "tool").stat().st_mode) == 0o755


def test_damaged_archive(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="damaged"):
        tarball.unpack(b"\x00garbage" * 100, tmp_path)
