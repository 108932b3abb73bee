"""`tazpod init` through the real CLI, in a temp directory."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ExitCode
from tazpod.project.config import read_project_config
from tazpod.project.names import safe_dir_part
from tazpod.secrets.mappings import read_secrets_config

Cli = Callable[..., tuple[int, str, str]]


def test_init_default_k8s(in_tmp: Path, cli: Cli) -> None:
    code, out, _ = cli("init")
    assert code == 0
    for created in (".tazpod/config.yaml", ".tazpod/.gitignore", ".gemini/", "secrets.yml"):
        assert f"created   {created}" in out
    config = read_project_config(in_tmp / ".tazpod/config.yaml").config
    assert config.vertical == "k8s" and config.image.startswith("tazpod-k8s:")
    expected = re.escape(safe_dir_part(in_tmp.name))
    assert re.fullmatch(rf"tazpod-{expected}-\d{{7}}", config.container_name)
    assert config.user == "tazpod" and config.features.ghost_mode and not config.features.debug
    gitignore = (in_tmp / ".tazpod/.gitignore").read_text().splitlines()
    assert "vault/" in gitignore and ".gemini/" in gitignore
    assert (in_tmp / ".gemini/.gitignore").read_text() == "*\n"
    assert stat.S_IMODE((in_tmp / ".tazpod/vault").stat().st_mode) == 0o700
    secrets, warnings = read_secrets_config(in_tmp / "secrets.yml")
    assert warnings == () and secrets.environment == "dev" and secrets.mappings == ()
    assert "# - name: KUBECONFIG_CONTENT" in (in_tmp / "secrets.yml").read_text()


def test_config_is_commented_and_warning_free(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    text = (in_tmp / ".tazpod/config.yaml").read_text()
    assert text.count("\n#") + text.count("  #") >= 10
    loaded = read_project_config(in_tmp / ".tazpod/config.yaml")
    assert loaded.warnings == ()
    assert loaded.config.vertical == "base"


@pytest.mark.parametrize("vertical", ["base", "infisical", "k8s", "gemini"])
def test_each_vertical(in_tmp: Path, cli: Cli, vertical: str) -> None:
    assert cli("init", vertical)[0] == 0
    config = read_project_config(in_tmp / ".tazpod/config.yaml").config
    assert config.image.startswith(f"tazpod-{vertical}:")


def test_unknown_vertical_is_refused_with_the_list(in_tmp: Path, cli: Cli) -> None:
    code, _, err = cli("init", "talos")
    assert code == ExitCode.USAGE
    assert "unknown vertical 'talos'" in err
    for vertical in ("base", "infisical", "k8s", "gemini"):
        assert vertical in err
    assert not (in_tmp / ".tazpod").exists()


def test_existing_project_needs_force(in_tmp: Path, cli: Cli) -> None:
    cli("init")
    before = (in_tmp / ".tazpod/config.yaml").read_text()
    code, _, err = cli("init", "base")
    assert code == ExitCode.USAGE and "already exists" in err and "--force" in err
    assert (in_tmp / ".tazpod/config.yaml").read_text() == before


def test_force_keeps_secrets_vault_and_container_name(in_tmp: Path, cli: Cli) -> None:
    cli("init")
    name = read_project_config(in_tmp / ".tazpod/config.yaml").config.container_name
    (in_tmp / "secrets.yml").write_text("secrets: []\n")
    (in_tmp / ".tazpod/vault/vault.age").write_bytes(b"sealed")
    code, out, _ = cli("init", "base", "--force")
    assert code == 0
    assert "rewrote   .tazpod/config.yaml" in out and "kept      secrets.yml" in out
    assert (in_tmp / "secrets.yml").read_text() == "secrets: []\n"
    assert (in_tmp / ".tazpod/vault/vault.age").read_bytes() == b"sealed"
    config = read_project_config(in_tmp / ".tazpod/config.yaml").config
    assert config.container_name == name and config.vertical == "base"


def test_existing_secrets_yml_is_never_overwritten(in_tmp: Path, cli: Cli) -> None:
    (in_tmp / "secrets.yml").write_text("# mine\n")
    _, out, _ = cli("init")
    assert "kept      secrets.yml" in out
    assert (in_tmp / "secrets.yml").read_text() == "# mine\n"


def test_name_from_awkward_directory(tmp_path: Path, cli: Cli) -> None:
    awkward = tmp_path / ".Mon Projét"
    awkward.mkdir()
    old = Path.cwd()
    os.chdir(awkward)
    try:
        cli("init")
    finally:
        os.chdir(old)
    name = read_project_config(awkward / ".tazpod/config.yaml").config.container_name
    assert re.fullmatch(r"tazpod-mon-projet-\d{7}", name)
