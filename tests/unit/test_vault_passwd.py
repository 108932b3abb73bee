"""Issue 16, item 11: `vault passwd` as container root (no SUDO_UID) left identity.age
root:root, and the next `tazpod run` failed with PermissionError."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tazpod.cli import context
from tazpod.project import trust
from tazpod.project.config import read_project_config
from tazpod.secrets.mappings import read_secrets_config
from tazpod.sysio import environ
from tazpod.vault.age_files import RamVault

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def reachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory another user can reach (pytest's temp dirs are root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="tazpod-passwd-", dir="/var/tmp"))
    directory.chmod(0o755)
    monkeypatch.chdir(directory)
    yield directory
    shutil.rmtree(directory)


@pytest.mark.skipif(os.geteuid() != 0, reason="container root: needs root")
def test_container_root_keeps_identity_age_the_users(
    reachable: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_tmp = reachable
    user = pwd.getpwnam("nobody")  # the image's user, as config.yaml names it
    cli("init", "base")
    config_path = in_tmp / ".tazpod" / "config.yaml"
    config_path.write_text(config_path.read_text().replace('user: "tazpod"', 'user: "nobody"'))
    vault_dir = in_tmp / ".tazpod" / "vault"
    RamVault(vault_dir).create("old passphrase")
    for path in (vault_dir, *vault_dir.iterdir()):
        os.chown(path, user.pw_uid, user.pw_gid)
    (in_tmp / "old").write_text("old passphrase\n")
    (in_tmp / "new").write_text("new passphrase\n")
    monkeypatch.setenv(environ.CONTAINER, "1")
    monkeypatch.delenv("SUDO_UID", raising=False)
    config = read_project_config(config_path).config
    secrets = read_secrets_config(in_tmp / "secrets.yml")[0]
    monkeypatch.setattr(
        context, "approved_digest", trust.digest(trust.settings_of(config, secrets))
    )
    args = ("--passphrase-file", str(in_tmp / "old"), "--new-passphrase-file", str(in_tmp / "new"))
    code, _, err = cli("vault", "passwd", *args)
    assert code == 0, err
    identity = (vault_dir / "identity.age").stat()
    assert (identity.st_uid, identity.st_gid) == (user.pw_uid, user.pw_gid)
