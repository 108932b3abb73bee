"""The luks backend's parts that this kernel has: loop devices, and every refusal.

This machine's kernel has no device-mapper; dm-crypt itself is exercised by the
luks tier in its VM. Loop handling (autoclear, identification by device and
inode, cleaning only this vault's leftovers) is tested here for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tazpod.errors import ExitCode, VaultError
from tazpod.sysio import loop
from tazpod.vault.luks import release_leftovers, require_device_mapper

from .conftest import Project


def _image(path: Path, mib: int = 8) -> Path:
    with path.open("wb") as handle:
        handle.truncate(mib * 1024 * 1024)
    return path


def _number(device: str) -> int:
    return int(device.removeprefix("/dev/loop"))


def test_attach_sets_autoclear_and_identifies_the_file(tmp_path: Path) -> None:
    image = _image(tmp_path / "vault.img")
    fd = os.open(image, os.O_RDWR)
    try:
        attached = loop.attach(fd, str(image))
        number = _number(attached.path)
        info = os.fstat(fd)
        assert loop.backing(number) == (info.st_dev, info.st_ino)
        assert loop.loops_backed_by(info.st_dev, info.st_ino) == [number]
        flags = Path(f"/sys/block/loop{number}/loop/autoclear").read_text().strip()
        assert flags == "1"
        attached.close()  # the last user let go: the kernel frees the loop by itself
        assert loop.backing(number) is None
        assert loop.loops_backed_by(info.st_dev, info.st_ino) == []
    finally:
        os.close(fd)


def test_leftover_loops_are_cleaned_for_this_vault_only(tmp_path: Path) -> None:
    ours = _image(tmp_path / "ours.img")
    theirs = _image(tmp_path / "theirs.img")
    # As TazPod left them: plain `losetup`, no autoclear.
    left = subprocess.run(
        ["losetup", "--find", "--show", str(ours)], capture_output=True, text=True, check=True
    ).stdout.strip()
    other = subprocess.run(
        ["losetup", "--find", "--show", str(theirs)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        said: list[str] = []
        fd = os.open(ours, os.O_RDONLY)
        try:
            release_leftovers(ours, fd, said.append)
        finally:
            os.close(fd)
        assert loop.backing(_number(left)) is None
        assert said == [f"detached {left}, left attached to this vault by an earlier session"]
        info = theirs.stat()
        assert loop.backing(_number(other)) == (info.st_dev, info.st_ino)
    finally:
        subprocess.run(["losetup", "-d", other], check=False)
        subprocess.run(["losetup", "-d", left], check=False, capture_output=True)


def test_no_device_mapper_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VaultError) as caught:
        require_device_mapper(tmp_path / "control")
    assert "no device-mapper" in caught.value.message
    assert "modprobe dm_crypt" in (caught.value.hint or "")


@pytest.mark.skipif(Path("/dev/mapper/control").exists(), reason="this kernel has dm")
def test_unlock_without_device_mapper_leaves_nothing(project: Project) -> None:
    project.set_config("  backend: ram\n", "  backend: luks\n")
    done = project.run("true")
    assert done.returncode == ExitCode.VAULT, done.stderr
    assert "no device-mapper" in done.stderr
    assert list(project.vault_dir.glob("*.img*")) == []


def test_migrate_refusals_change_nothing(project: Project) -> None:
    assert project.run("sh", "-c", 'echo a > "$TAZPOD_VAULT/a"').returncode == 0
    sealed = (project.vault_dir / "vault.age").read_bytes()
    args = ("--passphrase-file", str(project.passfile))
    same = project.tazpod("vault", "migrate", "--to", "ram", *args)
    assert same.returncode == ExitCode.USAGE and "already uses the ram backend" in same.stderr

    leftover = project.vault_dir / "vault.img"
    leftover.write_bytes(b"half a vault")
    os.chown(leftover, project.user.uid, project.user.gid)
    taken = project.tazpod("vault", "migrate", "--to", "luks", *args)
    assert taken.returncode == ExitCode.VAULT, taken.stderr
    assert "vault.img already in" in taken.stderr and "interrupted migration" in taken.stderr
    leftover.unlink()
    assert (project.vault_dir / "vault.age").read_bytes() == sealed

    busy = project.start("sleep", "30")
    try:
        deadline = 100
        while not (project.user.home / "secrets" / ".tazpod").exists() and deadline:
            subprocess.run(["sleep", "0.1"], check=True)
            deadline -= 1
        opened = project.tazpod("vault", "migrate", "--to", "luks", *args)
        assert opened.returncode == ExitCode.VAULT_BUSY, opened.stderr
    finally:
        busy.terminate()
        busy.wait(timeout=30)
    assert not leftover.exists()  # the open vault was left alone (it saved itself on SIGTERM)
    assert "backend: ram" in (project.root / ".tazpod" / "config.yaml").read_text()
