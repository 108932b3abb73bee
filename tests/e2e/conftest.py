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
from collections.abc import Callable, Iterator
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


ENGINES = ("docker", "podman")
# This workplace's hosts lack CAP_SYS_RESOURCE: Podman needs explicit limits (documented).
PODMAN_ULIMITS = "ulimits: [nofile=20000:20000, nproc=32768:32768]\n"


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest, docker_ready: None) -> str:
    name = str(request.param)
    if name == "podman" and subprocess.run(["podman", "info"], capture_output=True).returncode:
        pytest.fail("podman is not usable (./scripts/test installs it)")
    return name


@pytest.fixture(scope="session")
def base_image(engine: str) -> str:
    local = BOOTSTRAP if engine == "docker" else f"localhost/{BOOTSTRAP}"
    if subprocess.run([engine, "image", "inspect", local], capture_output=True).returncode:
        subprocess.run(
            [_tazpod(), "image", "bootstrap", "--engine", engine, "--tag", BOOTSTRAP], check=True
        )
    return local


@dataclass
class Pod:
    root: Path
    passfile: Path
    engine: str

    def tazpod(
        self,
        *args: str,
        timeout: float = 300,
        check: bool = False,
        input: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
        env.update(extra_env or {})
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

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The engine's own command line (docker or podman)."""
        return subprocess.run([self.engine, *args], capture_output=True, text=True, timeout=120)


def _configure(root: Path, engine: str, base: str) -> None:
    config = root / ".tazpod" / "config.yaml"
    text = config.read_text().replace("engine: docker", f"engine: {engine}")
    if engine == "podman":
        text += PODMAN_ULIMITS
    text += f"build:\n  args:\n    BASE_IMAGE: {base}\n    WITH_LAZYVIM: '0'\n"
    config.write_text(text)
    approve(root)


def approve(root: Path) -> None:
    """`tazpod trust --yes`: what a user does on the host after editing config.yaml."""
    subprocess.run([_tazpod(), "trust", "--yes"], cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="session")
def vertical_built(
    engine: str, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Build tazpod-base once per engine and session (so it holds the tazpod under test).

    Afterwards, the images earlier builds left untagged are pruned (only tazpod's own).
    """
    root = tmp_path_factory.mktemp(f"build-{engine}")
    subprocess.run([_tazpod(), "init", "base"], cwd=root, check=True, capture_output=True)
    _configure(root, engine, base_image)
    done = subprocess.run([_tazpod(), "build"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    yield
    subprocess.run(
        [engine, "image", "prune", "-f", "--filter", "label=dev.tazpod.vertical"],
        capture_output=True,
    )


def new_project(prefix: str, vertical: str, engine: str, configure: Callable[[Path], None]) -> Pod:
    """A fresh project in /var/tmp, initialized, configured, owned by the image's user."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    root.chmod(0o755)
    subprocess.run([_tazpod(), "init", vertical], cwd=root, check=True, capture_output=True)
    configure(root)
    passfile = root / ".passphrase"
    passfile.write_text(PASSPHRASE + "\n")
    passfile.chmod(0o600)
    subprocess.run(["chown", "-R", "1000:1000", str(root)], check=True)  # the image's user
    return Pod(root, passfile, engine)


@pytest.fixture
def pod(engine: str, vertical_built: None, base_image: str) -> Iterator[Pod]:
    result = new_project(
        "tazpod-e2e-", "base", engine, lambda root: _configure(root, engine, base_image)
    )
    yield result
    result.cli("rm", "-f", result.name)
    shutil.rmtree(result.root, ignore_errors=True)
