"""Issue 18 (part 3) on real engines (Docker and Podman): a project that has only a
devcontainer.json comes up, built from its Dockerfile with build args and a target, with
its containerEnv, and its lifecycle hooks run in the container as its user.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod.errors import ExitCode

from .conftest import Pod, _tazpod, approve

# The target is the first stage: built without it, the image would be the last one's.
DOCKERFILE = """\
ARG BASE
FROM ${BASE} AS dev
ARG GREETING=unset
RUN useradd --create-home --uid 1000 --shell /bin/sh dev && echo "$GREETING" > /etc/greeting

FROM dev AS release
RUN echo the-release-stage > /etc/greeting
"""


def _devcontainer(base: str, post_create: object, engine: str) -> dict[str, object]:
    spec: dict[str, object] = {
        "name": "e2e",
        "build": {
            "dockerfile": "Dockerfile",
            "context": ".",
            "args": {"BASE": base, "GREETING": "hello-from-a-build-arg"},
            "target": "dev",
        },
        "containerEnv": {"APP_GREETING": "hello-from-containerEnv"},
        "remoteUser": "dev",
        "postCreateCommand": post_create,
        "postStartCommand": ["sh", "-c", "echo started >> /workspace/.started"],
        "customizations": {"vscode": {"extensions": ["ms-python.python"]}},
    }
    if engine == "podman":  # (this workplace's hosts: see tests/e2e/conftest.py)
        spec["runArgs"] = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]
    return spec


def _project(engine: str, base: str, post_create: object) -> Pod:
    """A directory with only .devcontainer/ in it, imported and approved, owned by uid 1000."""
    root = Path(tempfile.mkdtemp(prefix="tazpod-devcontainer-", dir="/var/tmp"))
    root.chmod(0o755)
    folder = root / ".devcontainer"
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    text = json.dumps(_devcontainer(base, post_create, engine), indent=2)
    (folder / "devcontainer.json").write_text("// the project's dev container\n" + text + "\n")
    done = subprocess.run(
        [_tazpod(), "init", "--from-devcontainer"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "customizations: not used" in done.stderr
    config = root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("engine: docker", f"engine: {engine}"))
    approve(root)
    subprocess.run(["chown", "-R", "1000:1000", str(root)], check=True)  # the image's user
    return Pod(root, root / ".passphrase", engine)


def _cleanup(pod: Pod) -> None:
    pod.cli("rm", "-f", pod.name)
    pod.cli("rmi", "-f", f"{pod.name}:devcontainer")
    shutil.rmtree(pod.root, ignore_errors=True)


HOOKS = {
    "who": 'id -un > /tmp/created-by && echo "$APP_GREETING" > /tmp/saw-env',
    "count": ["sh", "-c", "echo created >> /workspace/.created"],
}


@pytest.fixture
def devcontainer_pod(engine: str, base_image: str) -> Iterator[Pod]:
    pod = _project(engine, base_image, HOOKS)
    yield pod
    _cleanup(pod)


def _in_container(pod: Pod, script: str) -> str:
    done = pod.tazpod("exec", "--", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_issue18_a_devcontainer_json_project_comes_up_with_its_build_env_and_hooks(
    devcontainer_pod: Pod,
) -> None:
    pod = devcontainer_pod
    up = pod.tazpod("up", timeout=900)
    assert up.returncode == 0, up.stderr[-3000:]
    assert "created and started" in up.stdout
    assert "running postCreateCommand (who, count, at the same time)" in up.stderr
    assert "running postStartCommand" in up.stderr

    assert _in_container(pod, "cat /etc/greeting") == "hello-from-a-build-arg"  # arg + target
    assert _in_container(pod, 'echo "$APP_GREETING"') == "hello-from-containerEnv"
    assert _in_container(pod, "id -un") == "dev"
    assert _in_container(pod, "cat /tmp/created-by") == "dev"  # the hook ran as the user
    assert _in_container(pod, "cat /tmp/saw-env") == "hello-from-containerEnv"
    assert (pod.root / ".created").read_text() == "created\n"
    assert (pod.root / ".started").read_text() == "started\n"

    again = pod.tazpod("up")
    assert again.returncode == 0 and "already running" in again.stdout, again.stderr
    assert (pod.root / ".created").read_text() == "created\n"  # not run again
    assert (pod.root / ".started").read_text() == "started\n"
    # its image has no tazpod of root's: the enclave cannot be built there, and says so
    unlock = pod.tazpod("run", "--", "true", input="")
    assert unlock.returncode in (126, 127), unlock.stderr
    assert "no tazpod in /opt/tazpod" in unlock.stderr and "FROM one of tazpod's" in unlock.stderr

    replaced = pod.tazpod("up", "--replace", timeout=600)
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert (pod.root / ".created").read_text() == "created\ncreated\n"  # a new container
    assert (pod.root / ".started").read_text() == "started\nstarted\n"


def test_issue18_a_failing_hook_stops_up_with_a_clear_error(engine: str, base_image: str) -> None:
    pod = _project(engine, base_image, "echo about to fail; exit 7")
    try:
        up = pod.tazpod("up", timeout=900)
        assert up.returncode == ExitCode.ENGINE, up.stderr[-3000:]
        assert "about to fail" in up.stdout + up.stderr  # its output was shown
        assert (
            "the postCreateCommand hook failed (the hooks after it did not run):"
            " `echo about to fail; exit 7` exited 7"
        ) in up.stderr
        assert "tazpod up --replace" in up.stderr
        assert not (pod.root / ".started").exists()  # postStartCommand did not run
        # The container stays up, as the devcontainers CLI leaves it, to look into.
        again = pod.tazpod("up")
        assert again.returncode == 0 and "already running" in again.stdout, again.stderr
    finally:
        _cleanup(pod)
