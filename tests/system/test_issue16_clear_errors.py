"""Issue 16, item 11: what once ended in "internal error" is explained, with the fix.

Run as root for the user, as `sudo tazpod run` does on a host: root acts with the
user's effective ids in the project, so a check made with root's real ids (os.access
without effective_ids) passed a directory the user cannot write.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tazpod.errors import ExitCode

from .conftest import Project

pytestmark = pytest.mark.system


def test_issue16_a_vault_directory_the_user_cannot_write_is_explained(project: Project) -> None:
    project.vault_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(project.vault_dir, project.user.uid, project.user.gid)
    project.vault_dir.chmod(0o500)
    try:
        done = project.run("true")
    finally:
        project.vault_dir.chmod(0o700)
    assert done.returncode == ExitCode.VAULT, done.stderr
    assert f"{project.vault_dir} is not writable by {project.user.name}" in done.stderr
    assert "hint: give it to the enclave's user" in done.stderr
    assert "internal error" not in done.stderr
    assert project.run("true").returncode == 0, "nothing was left half made"


def test_issue16_a_symlinked_identity_is_explained(project: Project) -> None:
    assert project.run("true").returncode == 0
    identity = project.vault_dir / "identity.age"
    kept = project.root / "identity-copy.age"
    shutil.copy2(identity, kept)
    os.chown(kept, project.user.uid, project.user.gid)
    identity.unlink()
    identity.symlink_to(kept)
    os.lchown(identity, project.user.uid, project.user.gid)
    done = project.run("true")
    assert done.returncode == ExitCode.VAULT, done.stderr
    assert "identity.age is a symbolic link" in done.stderr and "hint: put the file" in done.stderr
    assert "internal error" not in done.stderr
    identity.unlink()
    shutil.copy2(kept, identity)
    os.chown(identity, project.user.uid, project.user.gid)
    assert project.run("true").returncode == 0
