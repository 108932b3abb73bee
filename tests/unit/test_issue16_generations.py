"""Issue 16, item 10: a save killed at any point leaves distinct generations, no strays.

Each case forks a saver that dies (os._exit, no clean-up runs) just before its Nth
file-system step, for every N until a save completes untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyrage
import pytest

from tazpod.sysio import files, linux
from tazpod.vault.age_files import RamVault

STEPS: list[tuple[Any, str]] = [
    (os, "replace"),
    (os, "link"),
    (os, "unlink"),
    (os, "fsync"),
    (linux, "exchange"),
    (files, "fsync_dir"),
]


def _die_at(step: int) -> None:
    """Make the process exit, as a SIGKILL would, before its ``step``-th file operation."""
    count = [0]
    for owner, name in STEPS:
        original = getattr(owner, name)

        def wrapper(*args: Any, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            count[0] += 1
            if count[0] == step:
                os._exit(9)
            return _original(*args, **kw)

        setattr(owner, name, wrapper)


def _save_dying_at(vault: RamVault, recipient: object, data: bytes, step: int) -> bool:
    """Seal ``data`` in a child killed before its ``step``-th step; True if it completed."""
    pid = os.fork()
    if pid == 0:
        try:
            _die_at(step)
            vault.seal(data, recipient)
        finally:
            os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    """One created vault (scrypt is slow), copied for each test."""
    vault = RamVault(tmp_path_factory.mktemp("made") / "v")
    key = vault.create("p")
    return vault.directory, key.recipient, key.identity


@pytest.fixture
def fresh(tmp_path: Path, made: tuple[Path, object, object]) -> tuple[RamVault, object, object]:
    directory, recipient, identity = made
    shutil.copytree(directory, tmp_path / "v")
    return RamVault(tmp_path / "v"), recipient, identity


def _content(path: Path, identity: object) -> bytes:
    return bytes(pyrage.decrypt(path.read_bytes(), [identity]))


def _assert_distinct_generations(vault: RamVault) -> None:
    if vault.previous_path.exists():
        assert not os.path.samefile(vault.vault_path, vault.previous_path)


@pytest.mark.parametrize("legacy_same_inode", [False, True])
def test_issue16_interrupted_save_never_leaves_one_inode_twice(
    fresh: tuple[RamVault, object, object], legacy_same_inode: bool
) -> None:
    vault, recipient, identity = fresh
    vault.seal(b"g1", recipient)
    vault.seal(b"g2", recipient)
    if legacy_same_inode:  # what an interrupted save of older versions left behind
        vault.previous_path.unlink()
        os.link(vault.vault_path, vault.previous_path)
    step, completed = 1, False
    while not completed:
        before = _content(vault.vault_path, identity)
        completed = _save_dying_at(vault, recipient, b"new%d" % step, step)
        now = _content(vault.vault_path, identity)
        assert now in (before, b"new%d" % step), step
        if completed:
            assert now == b"new%d" % step
        elif not legacy_same_inode:  # else the old state may stand until a save completes
            _assert_distinct_generations(vault)
            assert _content(vault.previous_path, identity) != b"new%d" % step
        vault.remove_stale_temps()  # what the next open does under the lock
        if not legacy_same_inode:
            _assert_distinct_generations(vault)
        step += 1
    assert step > 4  # the kill points really covered the rotation
    # The next save after any of those leaves exactly two distinct generations.
    vault.seal(b"final", recipient)
    _assert_distinct_generations(vault)
    assert sorted(p.name for p in vault.directory.iterdir()) == [
        "identity.age",
        "vault.age",
        "vault.age.1",
    ]
    assert _content(vault.vault_path, identity) == b"final"


def test_issue16_save_over_one_inode_twice_leaves_no_staging_file(
    fresh: tuple[RamVault, object, object],
) -> None:
    """Old tools' interrupted save: vault.age and vault.age.1 are hard links of one inode."""
    vault, recipient, identity = fresh
    vault.seal(b"only", recipient)
    vault.previous_path.unlink()
    os.link(vault.vault_path, vault.previous_path)
    vault.seal(b"next", recipient)
    assert sorted(p.name for p in vault.directory.iterdir()) == [
        "identity.age",
        "vault.age",
        "vault.age.1",
    ]
    _assert_distinct_generations(vault)
    assert _content(vault.previous_path, identity) == b"only"


def test_issue16_rotation_without_rename_exchange(
    fresh: tuple[RamVault, object, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """File systems without RENAME_EXCHANGE still rotate, with no stray staging file."""

    def unsupported(first: str, second: str) -> None:
        raise OSError(22, "renameat2: Invalid argument", first)

    monkeypatch.setattr(linux, "exchange", unsupported)
    vault, recipient, identity = fresh
    for data in (b"a", b"b", b"c"):
        vault.seal(data, recipient)
    os.unlink(vault.previous_path)
    os.link(vault.vault_path, vault.previous_path)
    vault.seal(b"d", recipient)
    assert sorted(p.name for p in vault.directory.iterdir()) == [
        "identity.age",
        "vault.age",
        "vault.age.1",
    ]
    _assert_distinct_generations(vault)
    assert _content(vault.previous_path, identity) == b"c"
    assert _content(vault.vault_path, identity) == b"d"
