"""secrets.yml: TazPod's format, tazpod's additions, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tazpod.errors import ConfigError
from tazpod.secrets.mappings import read_secrets_config

TAZPOD_SECRETS = """\
# Configurazione TazPod (Infisical)
config:
  infisical_project_id: ""
  infisical_url: "https://eu.infisical.com/api"

secrets:
  - name: SOPS_AGE_KEY
    file: age.key
    env: SOPS_AGE_KEY_FILE
  - name: KUBECONFIG_CONTENT
    file: kubeconfig
    env: KUBECONFIG
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.yml"
    path.write_text(text)
    return path


def test_tazpod_file_loads(tmp_path: Path) -> None:
    config, warnings = read_secrets_config(write(tmp_path, TAZPOD_SECRETS))
    assert warnings == ()
    assert config.url == "https://eu.infisical.com/api"
    assert config.environment == "dev" and config.secret_path == "/"
    assert [(m.name, m.file, m.env) for m in config.mappings] == [
        ("SOPS_AGE_KEY", "age.key", "SOPS_AGE_KEY_FILE"),
        ("KUBECONFIG_CONTENT", "kubeconfig", "KUBECONFIG"),
    ]
    assert config.mappings[1].line == 10


def test_environment_and_path(tmp_path: Path) -> None:
    text = "config:\n  infisical_project_id: p\n  environment: prod\n  secret_path: /app\n"
    config, _ = read_secrets_config(write(tmp_path, text))
    assert (config.project_id, config.environment, config.secret_path) == ("p", "prod", "/app")


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    config, _ = read_secrets_config(write(tmp_path, ""))
    assert config.mappings == ()


def entry(**fields: str) -> str:
    body = "".join(
        f"    {k}: {v!r}\n" if i else f"  - {k}: {v!r}\n" for i, (k, v) in enumerate(fields.items())
    )
    return "secrets:\n" + body


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (entry(name="A", file="/etc/passwd"), ":3: secrets[].file: '/etc/passwd' is an absolute"),
        (entry(name="A", file="../../x"), ":3: secrets[].file: '../../x' contains '..'"),
        (entry(name="A", file=".."), "contains '..'"),
        (entry(name="A", file="dir/x"), "'dir/x' contains a path separator"),
        (entry(name="A", file="a\\b"), "contains a path separator"),
        (entry(name="A", file=".env-infisical"), "is reserved for tazpod"),
        (entry(name="A", file="x", env="1BAD"), ":4: secrets[].env: '1BAD' is not a valid shell"),
        (entry(name="A", file="x", env="MY-VAR"), "'MY-VAR' is not a valid shell variable"),
        (entry(name="A", file="x", env="PATH"), "'PATH' is reserved"),
        (entry(name="A", file="x", env="TAZPOD_VAULT"), "'TAZPOD_VAULT' is reserved"),
        (entry(name="A"), ":2: secrets: entry is missing file"),
        (entry(file="x"), ":2: secrets: entry is missing name"),
        (entry(name=" ", file="x"), ":2: secrets[].name: is empty"),
        ("secrets:\n  - just-a-string\n", ":2: secrets: each entry must be a mapping"),
        ("secrets: {a: 1}\n", ":1: secrets: must be a list, not a mapping"),
        ("config: [1]\n", "config must be a mapping, not a list"),
        ("config:\n  infisical_url: ftp://x\n", ":2: config.infisical_url: 'ftp://x' is not"),
        ("config:\n  environment: 'de v'\n", ":2: config.environment: 'de v' is not"),
        ("config:\n  secret_path: app\n", ":2: config.secret_path: 'app' must be an absolute"),
        (
            "secrets:\n  - name: A\n    file: x\n  - name: B\n    file: x\n",
            ":4: secrets: file 'x' is already used at line 2",
        ),
        (
            "secrets:\n  - {name: A, file: x, env: E}\n  - {name: B, file: y, env: E}\n",
            ":3: secrets: env 'E' is already used at line 2",
        ),
        ("secrets:\n  - name: A\n   file: x\n", "malformed YAML"),
    ],
)
def test_bad_input(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_secrets_config(path)
    assert str(path) in caught.value.message
    assert fragment in caught.value.message


def test_unknown_entry_key_warns(tmp_path: Path) -> None:
    _, warnings = read_secrets_config(write(tmp_path, entry(name="A", file="x", enb="E")))
    assert any("secrets[].enb: unknown key" in w for w in warnings)
