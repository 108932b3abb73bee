"""The base vertical on its default distribution, Ubuntu 24.04, through the main job.

The Ubuntu root filesystem comes from `tazpod image bootstrap` against Ubuntu's mirror
(./scripts/test fetches Ubuntu's archive keyring, pinned by sha256); the lifecycle test
of the Debian images then runs unchanged on it. LazyVim is left out (WITH_LAZYVIM=0):
its plugins come from GitHub, which this machine does not reach. Docker only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod import __version__

from .conftest import Pod, _tazpod, approve, new_project
from .test_container_lifecycle import (
    test_init_up_unlock_isolate_down_up_again as test_lifecycle_on_ubuntu_24_04,
)

NOBLE = "tazpod-bootstrap:noble"
IMAGE = f"tazpod-base-noble:{__version__}"

__all__ = ["test_lifecycle_on_ubuntu_24_04"]


def _config(root: Path) -> None:
    config = root / ".tazpod" / "config.yaml"
    text = re.sub(r"(?m)^image: .*$", f'image: "{IMAGE}"', config.read_text())
    text += f"build:\n  args:\n    BASE_IMAGE: {NOBLE}\n    WITH_LAZYVIM: '0'\n"
    config.write_text(text)
    approve(root)


@pytest.fixture(scope="module")
def noble_built(docker_ready: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    if subprocess.run(["docker", "image", "inspect", NOBLE], capture_output=True).returncode:
        keyring = os.environ.get("TAZPOD_TEST_UBUNTU_KEYRING", "")
        mirror = os.environ.get("TAZPOD_TEST_UBUNTU_MIRROR", "http://archive.ubuntu.com/ubuntu")
        if not Path(keyring).is_file():
            pytest.fail("no Ubuntu archive keyring: ./scripts/test fetches it")
        boot = [_tazpod(), "image", "bootstrap", "--suite", "noble", "--mirror", mirror]
        done = subprocess.run(
            [*boot, "--keyring", keyring, "--tag", NOBLE], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    root = tmp_path_factory.mktemp("build-noble")
    subprocess.run([_tazpod(), "init", "base"], cwd=root, check=True, capture_output=True)
    _config(root)
    done = subprocess.run([_tazpod(), "build"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    release = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", IMAGE, "cat", "/etc/os-release"],
        capture_output=True,
        text=True,
    )
    assert 'VERSION_ID="24.04"' in release.stdout, release.stdout + release.stderr
    return IMAGE


@pytest.fixture
def pod(noble_built: str) -> Iterator[Pod]:
    result = new_project("tazpod-noble-", "base", "docker", _config)
    yield result
    result.cli("rm", "-f", result.name)
    shutil.rmtree(result.root, ignore_errors=True)
