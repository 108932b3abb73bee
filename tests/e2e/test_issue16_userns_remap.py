"""Issue 16: container root is not host root where the engine allows it (Docker's userns-remap).

A second dockerd, started here with `--userns-remap=default` on a socket of its own,
gets the base vertical built by this session (saved from the main engine and loaded).
First its remap user has one plain subordinate range: the container's user is then
host uid 301000 and cannot own the workspace, and `up` refuses, removing the container,
with the /etc/subuid lines that fix it. With exactly those lines the container runs:
its root is host uid 300000, its user the workspace's owner, `status` says so, and the
enclave opens, saves and keeps other sessions out as it does under plain Docker.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.errors import ExitCode
from tests.system.conftest import wait_for

from .conftest import Pod, _configure, _tazpod, new_project
from .enclave_checks import Remapped, check_round_trip

pytestmark = pytest.mark.e2e

RUN = Path("/run/tazpod-test-remap")
DATA = Path("/var/lib/tazpod-test/docker-remap")  # made anew for each uid map
SOCKET = f"unix://{RUN}/docker.sock"
SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))


class RemapDaemon:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "-H", SOCKET, *args], capture_output=True, text=True, timeout=timeout
        )

    def start(self, ranges: list[str]) -> None:
        for path in SUBID_FILES:
            kept = [
                line for line in path.read_text().splitlines() if not line.startswith("dockremap:")
            ]
            path.write_text("".join(f"{line}\n" for line in [*kept, *ranges]))
        RUN.mkdir(mode=0o700, exist_ok=True)
        self._stop_stale()
        # The daemon shifts image layers' owners by the map in force when it unpacks
        # them, under a data root named after root's host ids only: a new map, a new root.
        shutil.rmtree(DATA, ignore_errors=True)
        DATA.mkdir(mode=0o700, parents=True)
        with open(RUN / "dockerd.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    "--userns-remap=default",
                    "--bridge=none",
                    "--iptables=false",
                    f"--data-root={DATA}",
                    f"--exec-root={RUN}/exec",
                    f"--pidfile={RUN}/dockerd.pid",
                    f"--host={SOCKET}",
                ],
                stdout=log,
                stderr=log,
            )
        wait_for(lambda: self.cli("version", timeout=10).returncode == 0, timeout=120)

    def _stop_stale(self) -> None:
        """A daemon that a killed earlier run left behind (it holds the data root)."""
        try:
            pid = int((RUN / "dockerd.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"dockerd" in cmdline and f"--data-root={DATA}".encode() in cmdline:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=120)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)
        self.process = None


@pytest.fixture
def remapped() -> Iterator[RemapDaemon]:
    if subprocess.run(["getent", "passwd", "dockremap"], capture_output=True).returncode:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "dockremap",
            ],
            check=True,
        )
    saved = {path: path.read_text() for path in SUBID_FILES}
    daemon = RemapDaemon()
    try:
        yield daemon
    finally:
        with contextlib.suppress(Exception):
            daemon.stop()
            shutil.rmtree(DATA, ignore_errors=True)
        for path, text in saved.items():
            path.write_text(text)


def _load_base(daemon: RemapDaemon) -> None:
    """The base vertical this session built (its tazpod is the one under test)."""
    image = f"tazpod-base:{__version__}"
    saved = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    loaded = subprocess.run(
        ["docker", "-H", SOCKET, "load"], stdin=saved.stdout, capture_output=True, timeout=600
    )
    assert saved.wait() == 0 and loaded.returncode == 0, loaded.stderr


@pytest.mark.parametrize("engine", ["docker"], indirect=True)
def test_issue16_userns_remap_root_is_not_host_root_and_the_user_owns_the_workspace(
    engine: str, vertical_built: None, base_image: str, remapped: RemapDaemon
) -> None:
    def configure(root: Path) -> None:
        _configure(root, engine, base_image)
        config = root / ".tazpod" / "config.yaml"
        text = config.read_text().replace("network: host", "network: none")
        text = re.sub(r"  bridges:\n(    - .*\n)+", "  bridges: []\n", text)
        config.write_text(text)

    pod: Pod = new_project("tazpod-e2e-remap-", "base", engine, configure)
    on_remap = {"DOCKER_HOST": SOCKET}
    try:
        trusted = pod.tazpod("trust", "--yes")
        assert trusted.returncode == 0, trusted.stderr
        remapped.start(["dockremap:300000:65536"])
        _load_base(remapped)

        refused = pod.tazpod("up", extra_env=on_remap)
        assert refused.returncode == ExitCode.ENGINE, refused.stderr
        assert "tazpod (uid 1000) is host uid 301000" in refused.stderr
        assert "the container was removed" in refused.stderr
        assert remapped.cli("ps", "-aq").stdout.strip() == ""
        lines = re.findall(r"dockremap:\d+:\d+", refused.stderr.split("/etc/subuid:")[1])
        assert lines[:3] == ["dockremap:300000:1000", "dockremap:1000:1", "dockremap:301001:64535"]

        remapped.stop()
        remapped.start(lines[:3])  # the hint's fix, as a user would apply it
        _load_base(remapped)
        up = pod.tazpod("up", extra_env=on_remap)
        assert up.returncode == 0, up.stderr
        status = pod.tazpod("status", extra_env=on_remap)
        assert (
            "user ns:     container root is host uid 300000; tazpod (uid 1000) is host uid 1000"
            in status.stdout
        ), status.stdout
        pid = int(remapped.cli("inspect", "-f", "{{.State.Pid}}", pod.name).stdout)
        host_uids = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:4]
        assert host_uids == ["300000"] * 4  # the container's init, seen from the host

        box = Remapped(
            pod.root,
            pod.name,
            pod.passfile,
            tazpod=lambda *args: pod.tazpod(*args, extra_env=on_remap),
            popen=lambda args: subprocess.Popen(
                [_tazpod(), *args],
                cwd=pod.root,
                env={**os.environ, **on_remap},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            cli=lambda *args: remapped.cli(*args),
        )
        check_round_trip(box, owner=(1000, 1000))  # the workspace owner's ids, on the host
        assert pod.tazpod("down", extra_env=on_remap).returncode == 0
    finally:
        remapped.cli("rm", "-f", pod.name)
        shutil.rmtree(pod.root, ignore_errors=True)
