"""The vault's lock file: one holder at a time, and a planted link is explained (issue 16, 11)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tazpod.errors import VaultError
from tazpod.project.schema import VaultConfig
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import VaultLock, is_locked


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = VaultLock(tmp_path), VaultLock(tmp_path)
    assert first.try_acquire() and is_locked(tmp_path)
    assert not second.try_acquire()
    first.release()
    assert not is_locked(tmp_path) and second.try_acquire()
    second.release()


def test_a_symlinked_lock_is_refused_with_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(target, tmp_path / ".lock")
    with pytest.raises(VaultError, match="is a symbolic link") as caught:
        VaultLock(tmp_path).try_acquire()
    assert f"rm {tmp_path / '.lock'}" in (caught.value.hint or "")
    with pytest.raises(VaultError, match="is a symbolic link"):
        is_locked(tmp_path)


def test_a_symlinked_vault_directory_is_refused(tmp_path: Path) -> None:
    """A session in the container swaps .tazpod/vault for a link to a directory of its choice."""
    (tmp_path / ".tazpod").mkdir()
    (tmp_path / "chosen").mkdir()
    os.symlink(tmp_path / "chosen", tmp_path / ".tazpod" / "vault")
    with pytest.raises(VaultError, match="is a symbolic link") as caught:
        vault_for(VaultConfig(), tmp_path / ".tazpod" / "vault")
    assert "mv " in (caught.value.hint or "")
    os.symlink(tmp_path / ".tazpod", tmp_path / "linked")
    with pytest.raises(VaultError, match="is a symbolic link"):
        vault_for(VaultConfig(), tmp_path / "linked" / "vault")


def test_looking_never_takes_the_lock(tmp_path: Path) -> None:
    """status and down look while an enclave may be opening: their probe must not win."""
    import fcntl

    holder = VaultLock(tmp_path)
    assert holder.try_acquire()
    fd = os.open(tmp_path / ".lock", os.O_RDONLY)
    try:
        assert is_locked(tmp_path)
        holder.release()
        assert not is_locked(tmp_path)
        fcntl.flock(fd, fcntl.LOCK_EX)  # any holder counts, whoever it is
        assert is_locked(tmp_path)
    finally:
        os.close(fd)
    assert not is_locked(tmp_path) and not is_locked(tmp_path / "absent")
