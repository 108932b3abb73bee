"""The stacked verticals (base <- infisical <- k8s <- gemini), built and run for real.

The tools that come from GitHub or vendor sites are served by a loopback mirror
(TAZPOD_ARTIFACT_MIRROR) as stand-ins in the vendor's release layout, because this
machine reaches no such site; Node.js and the Gemini CLI are the real packages from
the npm registry, passed through the same mirror. Docker only: the engine makes no
difference to what is tested here, and Podman runs the lifecycle tests.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tazpod import __version__
from tazpod.images.artifacts import LOCK_FILE
from tazpod.images.download import MIRROR_ENV
from tazpod.images.stack import IMAGES
from tests.e2e.conftest import Pod, _configure, new_project
from tests.support.mirror import Mirror, publish_releases, serve

pytestmark = pytest.mark.parametrize("engine", ["docker"], indirect=True)
ABOVE_BASE = ("infisical", "k8s", "gemini")


@dataclass
class Setup:
    pod: Pod
    mirror: Mirror
    printed: dict[str, str]  # tool -> what its stand-in prints
    env: dict[str, str]


@pytest.fixture
def gemini_project(engine: str, vertical_built: None, base_image: str) -> Iterator[Setup]:
    pod = new_project(
        "tazpod-verticals-", "gemini", engine, lambda root: _configure(root, engine, base_image)
    )
    root = pod.root
    # Built fresh each time: the point is to watch infisical and k8s being built too.
    for vertical in ABOVE_BASE:
        pod.cli("rmi", "-f", f"tazpod-{vertical}:{__version__}")
    with serve(Mirror(upstream=("registry.npmjs.org",))) as mirror:
        printed: dict[str, str] = {}
        for vertical in ("infisical", "k8s"):
            printed.update(publish_releases(mirror, IMAGES / vertical / "artifacts.toml"))
        env = {MIRROR_ENV: mirror.url, "XDG_CACHE_HOME": str(root / "cache")}
        try:
            yield Setup(pod, mirror, printed, env)
        finally:
            pod.cli("rm", "-f", pod.name)
            shutil.rmtree(root, ignore_errors=True)


def test_gemini_vertical_builds_on_k8s_and_infisical(gemini_project: Setup) -> None:
    pod, mirror, printed, env = (
        gemini_project.pod,
        gemini_project.mirror,
        gemini_project.printed,
        gemini_project.env,
    )
    built = pod.tazpod("build", timeout=900, extra_env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    log = built.stdout + built.stderr
    assert f"using tazpod-base:{__version__}" in log  # the session's base, not rebuilt
    for vertical in ABOVE_BASE:
        assert f"building tazpod-{vertical}:{__version__} (the {vertical} vertical)" in log
    assert "downloading node 22." in log and "downloading gemini-cli 0.61.0" in log

    pins = json.loads((pod.root / ".tazpod" / LOCK_FILE).read_text())["artifacts"]
    assert sorted(key.split("@")[0] for key in pins) == sorted([*printed, "node", "gemini-cli"])
    node = next(pin for key, pin in pins.items() if key.startswith("node@"))
    assert node["source"].startswith("https://registry.npmjs.org/node-linux-")

    up = pod.tazpod("up", timeout=300)
    assert up.returncode == 0, up.stderr[-2000:]
    script = " && ".join(printed) + " && node --version && gemini --version && id -un"
    ran = pod.tazpod("exec", "--", "sh", "-c", script, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    for text in printed.values():
        assert text in ran.stdout
    lines = ran.stdout.splitlines()
    assert lines[-3].startswith("v22.") and lines[-2] == "0.61.0" and lines[-1] == "tazpod"
    labels = pod.cli(
        "image", "inspect", "--format", "{{json .Config.Labels}}", f"tazpod-gemini:{__version__}"
    )
    assert json.loads(labels.stdout)["dev.tazpod.vertical"] == "gemini"

    # Offline now: a rebuild takes the pinned tools from the cache and asks no one.
    mirror.files.clear()
    mirror.upstream = ()
    asked = len(mirror.requests)
    again = pod.tazpod("build", timeout=600, extra_env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(mirror.requests) == asked
    assert (again.stdout + again.stderr).count("cached, matches artifacts.lock") == 2
