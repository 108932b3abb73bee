"""e2e tier: a real Docker engine (./scripts/test starts dockerd), images built offline.

The base image comes from `tazpod image bootstrap` (mmdebstrap from the apt mirror, then
an image import) and is kept between runs; the base vertical is rebuilt once per session
so it holds the tazpod under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BOOTSTRAP = "tazpod-bootstrap:bookworm"
PASSPHRASE = "e2e passphrase"


def _tazpod() -> str:
    return str(Path(sys.executable).parent / "tazpod")


@pytest.fixture(scope="session")
def docker_ready() -> None:
    if os.geteuid() != 0:
        pytest.fail("the e2e tier needs root (it drives dockerd)")
    done = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"no Docker engine: {done.stderr.strip()[:300]} (./scripts/test starts one)")


@pytest.fixture(scope="session")
def base_image(docker_ready: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    if subprocess.run(["docker", "image", "inspect", BOOTSTRAP], capture_output=True).returncode:
        subprocess.run([_tazpod(), "image", "bootstrap", "--tag", BOOTSTRAP], check=True)
    return BOOTSTRAP


@dataclass
class Pod:
    root: Path
    passfile: Path

    def tazpod(
        self, *args: str, timeout: float = 300, check: bool = False, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
        return subprocess.run(
            [_tazpod(), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    @property
    def name(self) -> str:
        for line in (self.root / ".tazpod" / "config.yaml").read_text().splitlines():
            if line.startswith("container_name:"):
                return line.split(":", 1)[1].strip().strip('"')
        raise AssertionError("no container_name")

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def vertical_built(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build tazpod-base once per session from a scratch project (the tazpod under test)."""
    root = tmp_path_factory.mktemp("build")
    subprocess.run([_tazpod(), "init", "base"], cwd=root, check=True, capture_output=True)
    _add_build_args(root, base_image)
    done = subprocess.run([_tazpod(), "build"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def _add_build_args(root: Path, base: str) -> None:
    config = root / ".tazpod" / "config.yaml"
    config.write_text(
        config.read_text() + f"build:\n  args:\n    BASE_IMAGE: {base}\n    WITH_LAZYVIM: '0'\n"
    )


@pytest.fixture
def pod(vertical_built: None, base_image: str) -> Iterator[Pod]:
    root = Path(tempfile.mkdtemp(prefix="tazpod-e2e-", dir="/var/tmp"))
    root.chmod(0o755)
    subprocess.run([_tazpod(), "init", "base"], cwd=root, check=True, capture_output=True)
    _add_build_args(root, base_image)
    passfile = root / ".passphrase"
    passfile.write_text(PASSPHRASE + "\n")
    passfile.chmod(0o600)
    subprocess.run(["chown", "-R", "1000:1000", str(root)], check=True)  # the image's user
    result = Pod(root, passfile)
    yield result
    result.docker("rm", "-f", result.name)
    shutil.rmtree(root, ignore_errors=True)
