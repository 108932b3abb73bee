"""Bridges: home directories kept in the vault; migration never loses data."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod.errors import ExitCode

from .conftest import Project


@pytest.fixture
def bridge(project: Project) -> Iterator[tuple[Project, Path]]:
    name = f".tzbridge-{secrets.token_hex(4)}"
    home_dir = project.user.home / name
    project.set_config("  bridges: []\n", f"  bridges:\n    - ~/{name}\n")
    yield project, home_dir
    shutil.rmtree(home_dir, ignore_errors=True)


def _own(path: Path, project: Project) -> None:
    for directory, dirs, files in os.walk(path):
        for entry in [directory, *(os.path.join(directory, n) for n in dirs + files)]:
            os.lchown(entry, project.user.uid, project.user.gid)


def test_plaintext_moves_into_the_vault_and_the_bridge_works(bridge: tuple[Project, Path]) -> None:
    project, home_dir = bridge
    (home_dir / "nested").mkdir(parents=True)
    (home_dir / "cred").write_text("original\n")
    (home_dir / "nested" / "deep").write_text("deep\n")
    os.symlink("cred", home_dir / "link")
    _own(home_dir, project)

    done = project.run(
        "sh",
        "-c",
        f"cat {home_dir}/cred {home_dir}/nested/deep; readlink {home_dir}/link;"
        f" echo made-inside > {home_dir}/new",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "original\ndeep\ncred\n"
    assert "moved 3 file(s)" in done.stderr
    # Outside the enclave the plaintext is gone: only the (empty) directory remains.
    assert home_dir.is_dir() and list(home_dir.iterdir()) == []

    again = project.run("sh", "-c", f"cat {home_dir}/new {home_dir}/cred")
    assert again.stdout == "made-inside\noriginal\n"
    assert list(home_dir.iterdir()) == []


def test_issue15_what_appears_outside_later_is_never_taken_in(
    bridge: tuple[Project, Path],
) -> None:
    """A same-uid session plants files (and a link out) in the bridge while it is closed."""
    project, home_dir = bridge
    home_dir.mkdir()
    (home_dir / "cred").write_text("vault version\n")
    _own(home_dir, project)
    assert project.run("true").returncode == 0  # the first opening takes it in
    (home_dir / "cred").write_text("planted\n")
    os.symlink("/etc/passwd", home_dir / "link-out")
    _own(home_dir, project)
    done = project.run("sh", "-c", f"cat {home_dir}/cred; ls -A {home_dir}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "vault version\ncred\n"
    assert "2 file(s) at" in done.stderr and "were not taken in" in done.stderr
    assert sorted(p.name for p in home_dir.iterdir()) == ["cred", "link-out"]  # left alone
    again = project.run("cat", f"{home_dir}/cred")  # and the vault still opens
    assert again.returncode == 0 and again.stdout == "vault version\n", again.stderr


def test_bridge_inside_the_mount_point_is_refused(project: Project) -> None:
    project.set_config("  bridges: []\n", "  bridges:\n    - ~/secrets/inner\n")
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG
    assert "overlaps the vault mount point" in done.stderr


def test_bridge_containing_the_mount_point_is_refused(project: Project) -> None:
    project.set_config("  # mount_point: /home/tazpod/secrets", "  mount_point: ~/.outer/secrets")
    project.set_config("  bridges: []\n", "  bridges:\n    - ~/.outer\n")
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG and "overlaps" in done.stderr


def test_symlinked_bridge_is_refused_and_its_target_untouched(
    bridge: tuple[Project, Path], tmp_path: Path
) -> None:
    project, home_dir = bridge
    # Inside the home (a place bridges may be): the bind itself must refuse the symlink.
    target = project.user.home / f"elsewhere-{home_dir.name}"
    target.mkdir()
    (target / "keep").write_text("keep\n")
    _own(target, project)
    os.symlink(target, home_dir)
    os.lchown(home_dir, project.user.uid, project.user.gid)
    done = project.run("true")
    assert done.returncode == ExitCode.VAULT, done.stderr
    assert f"cannot prepare a bridge: {home_dir}: a symlink or not a directory" in done.stderr
    assert (target / "keep").read_text() == "keep\n"
    home_dir.unlink()
    shutil.rmtree(target)


def test_issue13_a_bridge_leaves_no_empty_directory_in_the_home(
    bridge: tuple[Project, Path],
) -> None:
    project, home_dir = bridge
    assert not home_dir.exists()
    done = project.run("sh", "-c", f'test -d "{home_dir}" && echo inside > "{home_dir}/kept"')
    assert done.returncode == 0, done.stderr
    assert not os.path.lexists(home_dir)  # made for the bind mount, removed after it
    kept = project.run("cat", f"{home_dir}/kept")
    assert kept.stdout == "inside\n", kept.stderr
