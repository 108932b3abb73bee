"""Issue 18 on a real cluster, run on the pod of test_dev_pod's terminal test (one pod start
less): OpenSSH's client reaches the dev pod through `tazpod ssh --stdio` (the API's exec
stream, no port, no Service); `ssh -L` reaches a server that only the pod's own network has
(forwardPorts, the ssh way)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from .conftest import DevPod


def _ssh(
    pod: DevPod, config: Path, *args: str, program: str = "ssh"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, "-F", str(config), "-o", "BatchMode=yes", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=pod.env(),
    )


def check_ssh_tools(devpod: DevPod, tmp_path: Path) -> None:
    """ssh, scp, rsync and `ssh -L` through `tazpod ssh-config`'s entry (the pod is up)."""
    ssh_dir = tmp_path / ".ssh"
    written = devpod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir))
    assert written.returncode == 0, written.stderr
    alias = next(
        line.split()[2] for line in written.stdout.splitlines() if line.startswith("connect: ssh ")
    )
    config = ssh_dir / "config"

    who = _ssh(devpod, config, alias, "id -un; echo $TAZPOD_CONTAINER")
    assert who.returncode == 0, who.stderr[-2000:]
    assert who.stdout.split() == ["tazpod", "1"]

    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(200_000))
    assert _ssh(devpod, config, str(blob), f"{alias}:/tmp/blob.bin", program="scp").returncode == 0
    back = tmp_path / "back.bin"
    got = _ssh(devpod, config, f"{alias}:/tmp/blob.bin", str(back), program="scp")
    assert got.returncode == 0, got.stderr
    assert back.read_bytes() == blob.read_bytes()

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("rsynced\n")
    rsh = f"ssh -F {config} -o BatchMode=yes"
    synced = subprocess.run(
        ["rsync", "-a", "-e", rsh, f"{tree}/", f"{alias}:/tmp/tree/"],
        capture_output=True,
        text=True,
        timeout=180,
        env=devpod.env(),
    )
    assert synced.returncode == 0, synced.stderr
    assert _ssh(devpod, config, alias, "cat /tmp/tree/a.txt").stdout == "rsynced\n"

    serve = devpod.tazpod(
        "exec",
        "--",
        "sh",
        "-c",
        "mkdir -p /tmp/www && echo in-the-pod > /tmp/www/i.txt && cd /tmp/www &&"
        " nohup setsid python3 -m http.server 8766 --bind 127.0.0.1 >/dev/null 2>&1 &",
    )
    assert serve.returncode == 0, serve.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(config),
            "-o",
            "BatchMode=yes",
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            f"127.0.0.1:{port}:127.0.0.1:8766",
            alias,
        ],
        env=devpod.env(),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "tunnel.err").open("wb"),  # never an unread pipe: see tests/e2e
    )
    try:
        deadline = time.monotonic() + 90
        body = None
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/i.txt", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert body == "in-the-pod\n"
    finally:
        tunnel.terminate()
        tunnel.wait(30)
    assert devpod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir), "--remove").returncode == 0
    assert not config.exists()
