"""config.yaml: defaults, TazPod compatibility, and every bad input's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tazpod.errors import ConfigError
from tazpod.project.config import (
    DEFAULT_BRIDGES,
    parse_size_mib,
    read_project_config,
    update_vault_backend,
)

TAZPOD_013 = """\
# TazPod Configuration
version: 1.0

# Final Image
image: "tazzo/tazlab.net:tazpod-gemini"

# Container Settings
container_name: "tazpod-lab"
user: "tazpod"

# Build Settings (Build Gemini layer locally)
build:
  dockerfile: ".tazpod/Dockerfile.gemini"
  context: "."

# Features
features:
  ghost_mode: true
  debug: false"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_tazpod_013_file_loads_unchanged(tmp_path: Path) -> None:
    loaded = read_project_config(write(tmp_path, TAZPOD_013))
    config = loaded.config
    assert loaded.warnings == ()
    assert config.version == "1.0"
    assert config.image == "tazzo/tazlab.net:tazpod-gemini"
    assert config.container_name == "tazpod-lab"
    assert config.user == "tazpod"
    assert config.build is not None and config.build.dockerfile == ".tazpod/Dockerfile.gemini"
    assert config.build.context == "."
    assert config.features.ghost_mode and not config.features.debug
    assert config.vault.backend == "ram" and config.vault.bridges == DEFAULT_BRIDGES
    assert config.engine == "docker" and config.network == "host" and not config.privileged


def test_minimal_with_vertical_gets_defaults(tmp_path: Path) -> None:
    config = read_project_config(write(tmp_path, "vertical: base\ncontainer_name: c1\n")).config
    assert config.image.startswith("tazpod-base:")
    assert config.vault.size_mib == 64 and config.vault.mount_point is None


def test_luks_default_size_is_tazpods(tmp_path: Path) -> None:
    text = "image: x\ncontainer_name: c\nvault:\n  backend: luks\n"
    assert read_project_config(write(tmp_path, text)).config.vault.size_mib == 512


def test_unknown_keys_warn_with_line(tmp_path: Path) -> None:
    text = "image: x\ncontainer_name: c\nimgae: typo\nfeatures:\n  ghost: true\n"
    loaded = read_project_config(write(tmp_path, text))
    assert any(":3: imgae: unknown key" in w for w in loaded.warnings)
    assert any(":5: features.ghost: unknown key" in w for w in loaded.warnings)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("image: x\ncontainer_name: [c\n", "starts at line 2"),
        ("image: x\n  container_name: c\n", ":2: malformed YAML"),
        ("- a\n- b\n", "the document must be a mapping, not a list"),
        ("container_name: c\n", "image is missing"),
        ("image: x\n", "container_name is missing"),
        ("image: x\ncontainer_name: c\nvertical: talos\n", ":3: vertical: 'talos' is not one of"),
        ("image: x\ncontainer_name: 'bad name'\n", ":2: container_name: 'bad name' is not a valid"),
        ("image: x\ncontainer_name: c\nuser: Root!\n", ":3: user: 'Root!' is not a valid user"),
        (
            "image: x\ncontainer_name: c\nfeatures:\n  ghost_mode: 'yes'\n",
            ":4: features.ghost_mode: must be true or false, not a string",
        ),
        ("image: x\ncontainer_name: c\nfeatures: true\n", ":3: features must be a mapping"),
        ("image: [x]\ncontainer_name: c\n", ":1: image: must be a string, not a list"),
        ("image: x\ncontainer_name: c\nengine: lxc\n", ":3: engine: 'lxc' is not one of"),
        ("image: x\ncontainer_name: c\nnetwork: bridge\n", ":3: network: 'bridge' is not one of"),
        ("image: x\ncontainer_name: c\nvault:\n  backend: zfs\n", ":4: vault.backend: 'zfs'"),
        ("image: x\ncontainer_name: c\nvault:\n  size: lots\n", ":4: vault.size: 'lots' is not"),
        ("image: x\ncontainer_name: c\nvault:\n  size: 0\n", ":4: vault.size: 0 is too small"),
        (
            "image: x\ncontainer_name: c\nvault:\n  mount_point: rel/dir\n",
            ":4: vault.mount_point: 'rel/dir' must be an absolute path",
        ),
        (
            "image: x\ncontainer_name: c\nvault:\n  bridges:\n    - /etc\n",
            ":5: vault.bridges: '/etc' is not a bridge",
        ),
        (
            "image: x\ncontainer_name: c\nvault:\n  bridges:\n    - ~/../x\n",
            ":5: vault.bridges: '~/../x' must not contain '..'",
        ),
        (
            "image: x\ncontainer_name: c\nvault:\n  bridges:\n    - ~/.a\n    - ~/.a\n",
            ":6: vault.bridges: '~/.a' is listed twice",
        ),
        ("image: x\ncontainer_name: c\nbuild:\n  context: .\n", "build.dockerfile is missing"),
        ("image: x\ncontainer_name: c\nprivileged: 1\n", ":3: privileged: must be true or false"),
        (
            "image: x\ncontainer_name: c\nvault:\n  kdf_time_ms: 5\n",
            ":4: vault.kdf_time_ms: must be a whole number of milliseconds from 100 to 60000",
        ),
    ],
)
def test_bad_input_names_file_line_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_project_config(path)
    assert str(path) in caught.value.message
    assert fragment in caught.value.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"image: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_project_config(path)


@pytest.mark.parametrize(
    ("value", "mib"), [(64, 64), ("64M", 64), ("512MiB", 512), ("1G", 1024), ("2048k", 2)]
)
def test_sizes(value: object, mib: int) -> None:
    assert parse_size_mib(value) == mib


def test_size_rejects_boolean() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        parse_size_mib(True)


def test_config_cache_round_trips_and_follows_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tazpod.project.read as read_module
    from tazpod.project.config import load_project_config

    text = TAZPOD_013 + "\nulimits: [nofile=1:2]\ncolour: blue\nvault:\n  bridges: [~/.aws]\n"
    path = write(tmp_path, text)
    first = load_project_config(path)
    assert first == read_project_config(path)
    assert any("colour" in w for w in first.warnings)

    def no_parse(_path: Path) -> object:
        raise AssertionError("parsed again")

    monkeypatch.setattr(read_module, "read_project_config", no_parse)
    assert load_project_config(path) == first  # from the cache, warnings included
    monkeypatch.setattr(read_module, "read_project_config", read_project_config)
    path.write_text(text.replace("tazpod-lab", "tazpod-lab2"))
    assert load_project_config(path).config.container_name == "tazpod-lab2"


def test_kdf_time_default_and_setting(tmp_path: Path) -> None:
    base = "image: x\ncontainer_name: c\n"
    assert read_project_config(write(tmp_path, base)).config.vault.kdf_time_ms == 2000
    tuned = base + "vault:\n  backend: luks\n  kdf_time_ms: 500\n"
    assert read_project_config(write(tmp_path, tuned)).config.vault.kdf_time_ms == 500


def test_update_vault_backend_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    path = write(tmp_path, TAZPOD_013 + "\nvault:\n  # the backend\n  backend: ram\n  size: 64M\n")
    path.chmod(0o640)
    update_vault_backend(path, "luks", 128)
    text = path.read_text()
    assert "# TazPod Configuration" in text and "# the backend" in text
    assert "backend: luks" in text and "size: 128M" in text
    assert path.stat().st_mode & 0o777 == 0o640
    config = read_project_config(path).config
    assert (config.vault.backend, config.vault.size_mib) == ("luks", 128)
    assert config.container_name == "tazpod-lab"


def test_update_vault_backend_adds_the_section(tmp_path: Path) -> None:
    path = write(tmp_path, TAZPOD_013)
    update_vault_backend(path, "luks", 512)
    assert read_project_config(path).config.vault.backend == "luks"
