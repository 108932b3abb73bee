"""Issue 16 ("a vault not written by the holder of the identity is refused"): the seal.

The streamed seal (GNU tar's output as the supervisor saves it) and the one made of an
archive in memory (create, rescue, upgrade) must be the same bytes, whatever the sizes
of the reads, and verify() must give back exactly the archive sealed.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tazpod.errors import VaultError
from tazpod.vault import seal

KEY = b"k" * 32


class Trickle:
    """A reader that hands out at most ``step`` bytes a call (a pipe under load)."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step = io.BytesIO(data), step

    def read(self, size: int = -1) -> bytes:
        return self.data.read(self.step if size < 0 else min(size, self.step))


def _gnu_tar(tree: Path) -> bytes:
    names = sorted(os.listdir(tree))
    done = subprocess.run(
        ["tar", "--format=posix", "--sort=name", "-C", str(tree), "-cf", "-", *names],
        capture_output=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "zeros").write_bytes(b"\0" * 5000)  # data that looks like an end
    (root / "sub" / "exact").write_bytes(b"x" * 1024)
    (root / ("long-" + "n" * 150)).write_bytes(os.urandom(70_000))  # a pax header
    (root / "empty").write_bytes(b"")
    os.symlink("sub/exact", root / "link")
    return root


@pytest.mark.parametrize("step", [1, 511, 512, 513, 4096, 1 << 20])
@pytest.mark.parametrize("size", [-1, 100, 65536])
def test_streamed_seal_equals_the_seal_in_memory(tree: Path, step: int, size: int) -> None:
    archive = _gnu_tar(tree)
    reader = seal.SealingReader(Trickle(archive, step), KEY)
    out = b""
    while chunk := reader.read(size):
        out += chunk
    assert out == seal.sign(archive, KEY)
    body, sealed = seal.verify(out, KEY, required=True)
    assert sealed
    with tarfile.open(fileobj=io.BytesIO(body)) as opened:
        names = opened.getnames()
        assert opened.extractfile("sub/zeros").read() == b"\0" * 5000  # type: ignore[union-attr]
    assert seal.SEAL_NAME not in names and "sub/exact" in names
    with tarfile.open(fileobj=io.BytesIO(out)) as recovered:  # what `age -d | tar -x` sees
        assert recovered.getnames()[-1] == seal.SEAL_NAME


def test_an_empty_tree_is_sealed_too() -> None:
    empty = b"\0" * 10240
    out = seal.SealingReader(io.BytesIO(empty), KEY).read()
    assert seal.verify(out, KEY, required=True) == (seal.END_OF_ARCHIVE, True)


def test_a_stream_that_does_not_end_as_a_tar_is_refused(tree: Path) -> None:
    archive = _gnu_tar(tree)
    cut = archive[: len(archive) // 2]  # tar killed half way: no end-of-archive
    with pytest.raises(VaultError, match="did not end as a tar archive ends"):
        seal.SealingReader(io.BytesIO(cut), KEY).read()
    with pytest.raises(VaultError, match="data after its end"):
        seal.SealingReader(io.BytesIO(archive + b"junk"), KEY).read()


def test_verify_refuses_a_missing_or_foreign_seal(tree: Path) -> None:
    archive = _gnu_tar(tree)
    assert seal.verify(archive, KEY, required=False) == (archive, False)
    with pytest.raises(seal.SealError, match="no seal"):
        seal.verify(archive, KEY, required=True)
    with pytest.raises(seal.SealError, match="not made with this vault's identity"):
        seal.verify(seal.sign(archive, b"other key"), KEY, required=False)
    sealed = seal.sign(archive, KEY)
    with pytest.raises(seal.SealError, match="no seal"):  # a member added after the seal
        seal.verify(sealed[: -len(seal.END_OF_ARCHIVE)] + archive, KEY, required=True)


def test_the_key_is_one_way_and_per_identity() -> None:
    import pyrage

    one, two = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    assert seal.key_for(one) == seal.key_for(one) != seal.key_for(two)
    assert str(one).encode() not in seal.key_for(one)
