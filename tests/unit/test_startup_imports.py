"""Issue 20: the modules the daily paths import, pinned (`--version`, `env`, `exec`).

Each path runs as a user runs it, through the installed launcher, and the modules it
loaded are read from the interpreter's own import log (PYTHONPROFILEIMPORTTIME).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tazpod.secrets import dotenv, mapping_table
from tazpod.secrets.mappings import read_secrets_config
from tazpod.secrets.value import Secret
from tests.support.trusting import approve

from .test_container_spec import _engine_socket

LAUNCHER = Path(sys.executable).with_name("tazpod")


def _imported(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[set[str], str]:
    done = subprocess.run(
        [str(LAUNCHER), *argv],
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "tazpod.cli.main" in modules, done.stderr
    return modules, done.stdout + done.stderr


def _container_name(project: Path) -> str:
    text = (project / ".tazpod/config.yaml").read_text()
    return next(line for line in text.splitlines() if line.startswith("container_name:")).split(
        '"'
    )[1]


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_launcher_is_tazpods_own() -> None:
    """pip's console-script launcher imports `re` first; tazpod installs its own script."""
    text = LAUNCHER.read_text()
    assert "from tazpod.cli.main import main" in text and "import re" not in text


def test_version_imports_almost_nothing(tmp_path: Path) -> None:
    modules, out = _imported(["--version"], dict(os.environ), tmp_path)
    assert "tazpod " in out
    heavy = ("re", "enum", "argparse", "typing", "dataclasses", "pathlib", "json", "tazpod.errors")
    assert _loaded(modules, heavy) == []


def test_env_on_the_prompt_path_imports_no_re_enum_or_yaml(tmp_path: Path) -> None:
    project, vault = tmp_path / "proj", tmp_path / "vault"
    project.mkdir()
    (vault / ".tazpod").mkdir(parents=True)
    (project / "secrets.yml").write_text(
        "config:\n  infisical_project_id: p\nsecrets:\n  - {name: K, file: kube, env: KUBECONFIG}\n"
    )
    (vault / "kube").write_text("k")
    values = {f"S{i}": Secret(f"it's {i}\nline") for i in range(50)}
    (vault / ".env-infisical").write_text(dotenv.render(values))
    (vault / ".env-local").write_text(dotenv.render({"LOCAL": Secret("l")}))
    mappings = read_secrets_config(project / "secrets.yml")[0].mappings
    mapping_table.record(str(vault), str(project / "secrets.yml"), mappings)
    env = {
        **os.environ,
        "TAZPOD_GHOST_MODE": "true",
        "TAZPOD_VAULT": str(vault),
        "TAZPOD_PROJECT": str(project),
    }
    modules, out = _imported(["env"], env, tmp_path)
    assert f"export KUBECONFIG='{vault}/kube'" in out and "export S49_FILE=" in out
    heavy = ("re", "enum", "argparse", "typing", "dataclasses", "pathlib", "json", "ruamel")
    assert _loaded(modules, heavy) == []


@pytest.mark.parametrize("command", [["exec", "--", "true"], ["ssh"]])
def test_exec_reaches_the_engine_without_the_sdk_or_http_client(
    tmp_path: Path, command: list[str]
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert subprocess.run([str(LAUNCHER), "init", "base"], cwd=project, check=False).returncode == 0
    approve(project)
    gone = b'{"message":"No such container"}'
    reply = f"HTTP/1.0 404 Not Found\r\nContent-Length: {len(gone)}\r\n\r\n".encode() + gone
    name = _container_name(project)
    socket_path, _seen = _engine_socket(tmp_path, {f"/containers/{name}/json": reply})
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    _imported(command, env, project)  # the first run after an edit parses the YAML ...
    modules, out = _imported(command, env, project)  # ... every later one reads the cache
    assert "does not exist" in out
    # (urllib.parse comes with pathlib on Python 3.11)
    heavy: tuple[str, ...] = ("docker", "requests", "urllib3", "http", "email", "ruamel")
    heavy += ("secrets", "kubernetes", "pyrage", "hmac")
    heavy += ("pyrage", "hmac")
    assert _loaded(modules, heavy) == []


def test_up_of_a_running_container_asks_the_socket_and_imports_no_sdk(tmp_path: Path) -> None:
    import json

    from tazpod import __version__

    project = tmp_path / "proj"
    project.mkdir()
    assert subprocess.run([str(LAUNCHER), "init", "base"], cwd=project, check=False).returncode == 0
    name = _container_name(project)
    labels = {
        "dev.tazpod.managed": "true",
        "dev.tazpod.project": str(project),
        "dev.tazpod.version": __version__,
    }
    body = json.dumps(
        {
            "Id": "0123456789abcdef",
            "Name": f"/{name}",
            "State": {"Status": "running"},
            "Config": {"Image": "tazpod-base:x", "Labels": labels},
        }
    ).encode()
    reply = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    socket_path, _seen = _engine_socket(tmp_path, {f"/containers/{name}/json": reply})
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
    _imported(["up"], env, project)
    modules, out = _imported(["up"], env, project)
    assert f"{name}: already running (tazpod-base:x)" in out
    assert _loaded(modules, ("docker", "requests", "urllib3", "http", "ruamel")) == []
