"""Issue 16, item 9: a save that cannot be written is explained, leaves no temp file,
and rescue copies never overwrite each other.

A real write failure without root: RLIMIT_FSIZE makes writes past a size fail (EFBIG),
as a full disk fails them (ENOSPC); the ENOSPC test itself is in the system tier.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
from pathlib import Path

import pytest

from tazpod.errors import VaultError
from tazpod.vault.age_files import RamVault, VaultKey
from tazpod.vault.ram import RamOpened


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VaultKey]:
    vault = RamVault(tmp_path_factory.mktemp("made") / "vault")
    return vault.directory, vault.create("pass")


def test_issue16_write_failure_while_sealing_is_a_vault_error(
    tmp_path: Path, made: tuple[Path, VaultKey]
) -> None:
    shutil.copytree(made[0], tmp_path / "vault")
    vault = RamVault(tmp_path / "vault")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "big").write_bytes(os.urandom(4 << 20))
    before = sorted(os.listdir(vault.directory))
    result_r, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        verdict = b"no error"
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
            vault.seal_tree(tree, made[1].recipient, made[1].seal_key, None)
        except VaultError as err:
            verdict = f"VaultError: {err}".encode()
        except BaseException as err:
            verdict = f"{type(err).__name__}: {err}".encode()
        finally:
            os.write(result_w, verdict)
            os._exit(0)
    os.close(result_w)
    os.waitpid(pid, 0)
    reported = os.read(result_r, 4000).decode()
    os.close(result_r)
    assert reported.startswith("VaultError: could not write vault.age"), reported
    assert sorted(os.listdir(vault.directory)) == before  # no temp file, no rotation


def test_issue16_rescue_files_get_unique_names(tmp_path: Path, made: tuple[Path, VaultKey]) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("work")
    opened = RamOpened(RamVault(made[0]), made[1].recipient, made[1].seal_key, None, 16)
    names = {opened.rescue(tree, [tmp_path]) for _ in range(5)}  # all in one second
    assert len(names) == 5
    assert all(p.name.startswith("tazpod-rescue-") and p.suffix == ".age" for p in names)
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in names)


def test_issue16_no_rescue_place_says_why(tmp_path: Path, made: tuple[Path, VaultKey]) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    opened = RamOpened(RamVault(made[0]), made[1].recipient, made[1].seal_key, None, 16)
    with pytest.raises(VaultError, match=r"nor a rescue copy: .*missing") as raised:
        opened.rescue(tree, [tmp_path / "missing"])
    assert "still open" in (raised.value.hint or "")


def test_issue16_earlier_rescue_copies_are_found_for_the_next_save_to_name(
    tmp_path: Path, made: tuple[Path, VaultKey]
) -> None:
    from tazpod.enclave.session import earlier_rescues

    tree = tmp_path / "tree"
    tree.mkdir()
    opened = RamOpened(RamVault(made[0]), made[1].recipient, made[1].seal_key, None, 16)
    first, second = opened.rescue(tree, [tmp_path]), opened.rescue(tree, [tmp_path])
    (tmp_path / "tazpod-rescue-link.age").symlink_to(first)  # not a rescue file of ours
    (tmp_path / "unrelated.age").write_bytes(b"x")
    found = earlier_rescues([tmp_path, tmp_path / "missing"], os.getuid())
    assert found == sorted([first, second])
    assert earlier_rescues([tmp_path], os.getuid() + 1) == []  # another user's are not named


class _BrokenTar:
    """What tar would hand on if its framing broke: one archive, then data after its end."""

    def __init__(self, *_args: object) -> None:
        import io
        import tarfile

        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.addfile(tarfile.TarInfo("empty"))
        self._data = io.BytesIO(raw.getvalue() + b"junk" * 300)
        self.size = 0

        class _Done:
            @staticmethod
            def poll() -> int:
                return 0

        self.process = _Done()

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def finish(self) -> None:
        pass


def test_issue16_a_broken_archive_while_sealing_is_named_not_called_a_full_disk(
    tmp_path: Path, made: tuple[Path, VaultKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code review: pyrage wraps the reader's error, so a framing fault came out as a
    write failure with the hint to free space."""
    from tazpod.vault import tarball

    shutil.copytree(made[0], tmp_path / "vault")
    vault = RamVault(tmp_path / "vault")
    before = sorted(os.listdir(vault.directory))
    monkeypatch.setattr(tarball, "ArchiveStream", _BrokenTar)
    with pytest.raises(VaultError, match="data after its end") as raised:
        vault.seal_tree(tmp_path, made[1].recipient, made[1].seal_key, None)
    assert "free space" not in (raised.value.hint or "")
    assert sorted(os.listdir(vault.directory)) == before
