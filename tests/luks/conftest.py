"""luks tier: runs only inside the VM that ./scripts/luks-vm boots (real dm-crypt).

The guest chroots into the host's root (read-only, with a RAM overlay), so the
system tier's helpers and the host's venv, cryptsetup and e2fsprogs are all here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.conftest import (
    PASSPHRASE,
    USERS,
    Project,
    User,
    _ensure_user,
    _kill_user_processes,
    as_user,
    passfile,
)

__all__ = ["PASSPHRASE", "LuksProject", "User", "passfile"]
SIZE = "64M"
# Cheap keyslots: TCG is slow, and the tests open vaults many times.
KDF = "  kdf_time_ms: 100\n  kdf_memory_mib: 32\n"


@pytest.fixture(autouse=True, scope="session")
def _require_vm() -> None:
    if os.environ.get("TAZPOD_LUKS_VM") != "1":
        pytest.fail("the luks tier runs inside its VM: ./scripts/test luks")
    if not Path("/dev/mapper/control").exists():
        pytest.fail("no device-mapper in this kernel")


class LuksProject(Project):
    @property
    def image(self) -> Path:
        return self.vault_dir / "vault.img"


def mappings() -> list[str]:
    """Names of every device-mapper device in the kernel."""
    return sorted((p / "dm" / "name").read_text().strip() for p in Path("/sys/block").glob("dm-*"))


def attached_loops() -> list[str]:
    return sorted(p.name for p in Path("/sys/block").glob("loop*") if (p / "loop").is_dir())


@pytest.fixture(scope="session")
def user() -> User:
    return _ensure_user(USERS[0])


@pytest.fixture(scope="session")
def template_image(user: User, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One vault.img made by tazpod (formatting is the slow part under TCG), copied per test."""
    made = _new_project(user, tmp_path_factory.mktemp("template") / "passphrase")
    done = made.run("true")
    assert done.returncode == 0, done.stderr
    template = tmp_path_factory.mktemp("image") / "vault.img"
    shutil.copyfile(made.image, template)
    _remove(made)
    return template


@pytest.fixture
def existing(project: LuksProject, template_image: Path) -> LuksProject:
    """A project whose luks vault already exists (a copy of the session's template)."""
    project.vault_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template_image, project.image)
    project.image.chmod(0o600)
    for path in (project.vault_dir, project.image):
        os.chown(path, project.user.uid, project.user.gid)
    return project


def _new_project(user: User, passfile: Path) -> LuksProject:
    passfile.write_text(PASSPHRASE + "\n")
    passfile.chmod(0o600)
    binary = Path(shutil.which("tazpod") or "tazpod")
    root = Path(tempfile.mkdtemp(prefix="tazpod-luks-", dir="/var/tmp"))
    root.chmod(0o755)
    os.chown(root, user.uid, user.gid)
    as_user(user, [str(binary), "init", "base"], cwd=root, check=True)
    proj = LuksProject(root, user, binary, passfile)
    proj.set_config("  backend: ram\n", "  backend: luks\n")
    proj.set_config("  size: 64M\n", f"  size: {SIZE}\n{KDF}")
    proj.set_config(
        "  bridges:\n    - ~/.infisical\n    - ~/infisical-keyring\n    - ~/.gemini\n",
        "  bridges: []\n",
    )
    return proj


def _remove(proj: LuksProject) -> None:
    _kill_user_processes(proj.user)
    for name in mappings():
        if name.startswith("tazpod-"):
            subprocess.run(["cryptsetup", "close", name], capture_output=True, check=False)
    shutil.rmtree(proj.root, ignore_errors=True)


@pytest.fixture
def project(user: User, passfile: Path) -> Iterator[LuksProject]:
    proj = _new_project(user, passfile)
    yield proj
    _remove(proj)
