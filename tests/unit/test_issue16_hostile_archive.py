"""Issue 16, item 5: a vault.age encrypted by anyone to the vault's public recipient.

An outsider (anyone who can write vault.age) has no seal key: its archive is refused
before a member is looked at. The hostile tars below are therefore sealed here with the
vault's own key, as if its holder had written them, so that the unpacking checks (the
defence behind the seal, and the only one for a vault from before seals) are opened
through the ram backend for real: nothing may appear, or change mode, outside the tree.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pyrage
import pytest

from tazpod.errors import VaultError
from tazpod.vault import seal
from tazpod.vault.age_files import RamVault, VaultKey
from tazpod.vault.ram import RamBackend

Member = tuple[str, bytes, str, int]  # name, type, link name, mode


def _tar(*members: Member) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, linkname, mode in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, linkname, mode
            data = b"planted" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


F, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE

HOSTILE: dict[str, list[Member]] = {
    "hard link to a symlink to ..": [
        ("d/up", S, "..", 0o777),
        ("hl", H, "d/up", 0o777),
        ("hl/planted", F, "", 0o644),
    ],
    "hard link to a symlink, its mode on the parent": [
        ("d/up", S, "..", 0o777),
        ("hl", H, "d/up", 0o777),
    ],
    "hard link to a directory": [("d", D, "", 0o755), ("hl", H, "d", 0o777)],
    "hard link through a symlink": [
        ("d/up", S, "..", 0o777),
        ("f", F, "", 0o644),
        ("hl", H, "d/up/f", 0o644),
    ],
    "hard link to outside": [("hl", H, "../outside-file", 0o644)],
    "hard link to a later entry": [("hl", H, "f", 0o644), ("f", F, "", 0o644)],
    "symlink chain out": [("d/up", S, "..", 0o777), ("out", S, "d/up/..", 0o777)],
    "symlink chain via a later link": [
        ("out", S, "d/x/..", 0o777),
        ("d/x", S, "..", 0o777),
    ],
    "symlink loop": [("a", S, "b", 0o777), ("b", S, "a", 0o777)],
    "symlink absolute": [("etc", S, "/etc", 0o777)],
    "file written over a symlink chain": [
        ("d/up", S, "..", 0o777),
        ("c", S, "d/up", 0o777),
        ("c", F, "", 0o644),
    ],
    "file under a symlink chain": [
        ("d/up", S, "..", 0o777),
        ("c", S, "d/up", 0o777),
        ("c/planted", F, "", 0o644),
    ],
    "directory replaced by a link": [
        ("d", D, "", 0o755),
        ("d", S, "..", 0o777),
        ("d/planted", F, "", 0o644),
    ],
    "file under a file": [("f", F, "", 0o644), ("f/x", F, "", 0o644)],
    "absolute name": [("/tmp/planted", F, "", 0o644)],
    "dot-dot name": [("../planted", F, "", 0o644)],
    "the root itself made 0777": [(".", D, "", 0o777)],
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VaultKey]:
    vault = RamVault(tmp_path_factory.mktemp("made") / "vault")
    return vault.directory, vault.create("pass")


def _open_hostile(
    tmp_path: Path, made: tuple[Path, VaultKey], archive: bytes, signed: bool = True
) -> Path:
    """Encrypt ``archive`` (sealed with the vault's key when ``signed``) to the vault's
    recipient, open the vault, unpack; returns the tree."""
    directory, key = made
    shutil.copytree(directory, tmp_path / "vault", dirs_exist_ok=True)
    if signed:
        archive = seal.sign(archive, key.seal_key)
    (tmp_path / "vault" / "vault.age").write_bytes(pyrage.encrypt(archive, [key.recipient]))
    ids = (os.getuid(), os.getgid(), tuple(os.getgroups()))
    backend = RamBackend(RamVault(tmp_path / "vault"), ids, size_mib=16)
    opened = backend.open("pass", lambda _line: None)
    tree = tmp_path / "outer" / "tree"
    tree.mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "outer", 0o700)
    opened.fill(tree)
    return tree


def _outside(tmp_path: Path) -> list[tuple[str, int]]:
    return sorted(
        (str(p.relative_to(tmp_path)), stat.S_IMODE(p.lstat().st_mode))
        for p in tmp_path.rglob("*")
        if "tree" not in p.parts and "vault" not in p.parts
    )


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_issue16_hostile_archive_never_leaves_the_tree(
    tmp_path: Path, made: tuple[Path, VaultKey], case: str
) -> None:
    (tmp_path / "outer").mkdir(mode=0o700)
    before = _outside(tmp_path)
    with pytest.raises(VaultError, match=r"unsafe entry|reserved entry"):
        _open_hostile(tmp_path, made, _tar(*HOSTILE[case]))
    assert _outside(tmp_path) == before
    assert stat.S_IMODE((tmp_path / "outer" / "tree").stat().st_mode) == 0o700
    assert not Path("/tmp/planted").exists()


def test_issue16_devices_and_fifos_are_left_out(
    tmp_path: Path, made: tuple[Path, VaultKey]
) -> None:
    archive = _tar(
        ("fifo", tarfile.FIFOTYPE, "", 0o666),
        ("dev", tarfile.CHRTYPE, "", 0o666),
        ("blk", tarfile.BLKTYPE, "", 0o666),
        ("hl", H, "fifo", 0o666),
    )
    with pytest.raises(VaultError, match="unsafe entry"):  # a link to a left-out entry
        _open_hostile(tmp_path, made, archive)
    shutil.rmtree(tmp_path / "vault")
    shutil.rmtree(tmp_path / "outer")
    tree = _open_hostile(
        tmp_path,
        made,
        _tar(
            *[
                m
                for m in [
                    ("fifo", tarfile.FIFOTYPE, "", 0o666),
                    ("dev", tarfile.CHRTYPE, "", 0o666),
                    ("ok", F, "", 0o4755),
                ]
            ]
        ),
    )
    assert sorted(os.listdir(tree)) == ["ok"]
    assert stat.S_IMODE((tree / "ok").stat().st_mode) == 0o755


def test_issue16_honest_links_still_open(tmp_path: Path, made: tuple[Path, VaultKey]) -> None:
    tree = _open_hostile(
        tmp_path,
        made,
        _tar(
            ("d", D, "", 0o700),
            ("d/f", F, "", 0o600),
            ("d/hl", H, "d/f", 0o600),
            ("d/s", S, "../d/f", 0o777),
            ("chain", S, "d/s", 0o777),
            ("up", S, "d/..", 0o777),
        ),
    )
    assert (tree / "chain").read_bytes() == b"planted"
    assert os.path.samefile(tree / "d" / "hl", tree / "d" / "f")


@pytest.mark.parametrize("case", ["an honest tree", *sorted(HOSTILE)])
def test_issue16_a_vault_encrypted_by_an_outsider_is_refused(
    tmp_path: Path, made: tuple[Path, VaultKey], case: str
) -> None:
    """Item 5: what anyone can make (a tar encrypted to the public recipient) never opens."""
    members = HOSTILE.get(case, [("kubeconfig", F, "", 0o600)])
    (tmp_path / "outer").mkdir(mode=0o700)
    before = _outside(tmp_path)
    with pytest.raises(VaultError, match="was not written by this vault's owner") as raised:
        _open_hostile(tmp_path, made, _tar(*members), signed=False)
    assert "no seal" in str(raised.value) and "vault.age.1" in (raised.value.hint or "")
    assert _outside(tmp_path) == before


def test_issue16_a_seal_made_with_another_key_or_moved_is_refused(
    tmp_path: Path, made: tuple[Path, VaultKey]
) -> None:
    honest = _tar(("kubeconfig", F, "", 0o600))
    forged = seal.sign(honest, seal.key_for(pyrage.x25519.Identity.generate()))
    with pytest.raises(VaultError, match="seal was not made with this vault's identity"):
        _open_hostile(tmp_path, made, forged, signed=False)
    # The holder's own seal, with a member appended after it (or its body changed).
    _directory, key = made
    genuine = seal.sign(honest, key.seal_key)
    appended = genuine[: -len(seal.END_OF_ARCHIVE)] + _tar(("extra", F, "", 0o600))
    with pytest.raises(VaultError, match="no seal"):
        _open_hostile(tmp_path, made, appended, signed=False)
    changed = genuine.replace(b"planted", b"PLANTED", 1)
    with pytest.raises(VaultError, match="seal was not made"):
        _open_hostile(tmp_path, made, changed, signed=False)
    tree = _open_hostile(tmp_path / "ok", made, genuine, signed=False)
    assert sorted(os.listdir(tree)) == ["kubeconfig"]


def test_issue16_a_vault_from_before_seals_opens_once_then_is_sealed(tmp_path: Path) -> None:
    """An identity.age without the marker (older tazpod) opens its unsealed vault, and that
    opening seals it: afterwards an outsider's vault.age is refused."""
    identity = pyrage.x25519.Identity.generate()
    directory = tmp_path / "vault"
    directory.mkdir(mode=0o700)
    text = f"# created: earlier\n# public key: {identity.to_public()}\n{identity}\n"
    (directory / "identity.age").write_bytes(pyrage.passphrase.encrypt(text.encode(), "pass"))
    old = _tar(("kubeconfig", F, "", 0o600))
    (directory / "vault.age").write_bytes(pyrage.encrypt(old, [identity.to_public()]))
    ids = (os.getuid(), os.getgid(), tuple(os.getgroups()))
    said: list[str] = []
    backend = RamBackend(RamVault(directory), ids, size_mib=16)
    tree = tmp_path / "tree"
    tree.mkdir(mode=0o700)
    backend.open("pass", said.append).fill(tree)
    assert (tree / "kubeconfig").read_bytes() == b"planted"
    assert any("sealed from now on" in line for line in said)
    assert backend.verify("pass").requires_seal
    # What the holder wrote before is the previous generation; vault.age carries a seal now.
    key = RamVault(directory).unwrap("pass")
    assert RamVault(directory).open_archive(key)[1]
    assert pyrage.decrypt((directory / "vault.age.1").read_bytes(), [identity]) == old
    (directory / "vault.age").write_bytes(pyrage.encrypt(old, [identity.to_public()]))
    with pytest.raises(VaultError, match="no seal"):
        backend.open("pass", said.append)
