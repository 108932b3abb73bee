"""Issue 18: OpenSSH's client reaches the dev container through `tazpod ssh --stdio`.

No port anywhere: the project's container has no network at all (`network: none`), so
every byte goes through the engine's exec to `sshd -i` in the container. The entries are
written into a scratch ssh directory (`--ssh-dir`): root's own ~/.ssh is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import Pod, _configure, approve, new_project

USER_CONFIG = "# my own settings\nHost example.org\n  User me\n  Port 2222\n"


def _no_network(root: Path, engine: str, base: str) -> None:
    _configure(root, engine, base)
    config = root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("network: host", "network: none"))
    approve(root)


@pytest.fixture
def offline_pod(engine: str, vertical_built: None, base_image: str) -> Iterator[Pod]:
    result = new_project(
        "tazpod-ssh-", "base", engine, lambda r: _no_network(r, engine, base_image)
    )
    yield result
    result.cli("rm", "-f", result.name)
    shutil.rmtree(result.root, ignore_errors=True)


class Ssh:
    def __init__(self, directory: Path, alias: str) -> None:
        self.config = directory / "config"
        self.alias = alias

    def base(self, program: str = "ssh") -> list[str]:
        return [program, "-F", str(self.config), "-o", "BatchMode=yes"]

    def run(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base(), *args], capture_output=True, text=True, timeout=timeout, env=env
        )


def _alias(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("connect: ssh "):
            return line.split()[2]
    raise AssertionError(output)


def _poll(predicate: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ssh_scp_rsync_and_a_forwarded_port_through_the_engine(
    offline_pod: Pod, tmp_path: Path, engine: str, base_image: str
) -> None:
    pod = offline_pod
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text(USER_CONFIG)
    (ssh_dir / "config").chmod(0o640)
    written = pod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir))
    assert written.returncode == 0, written.stderr
    alias = _alias(written.stdout)
    entry = ssh_dir / "tazpod" / f"{pod.name}.conf"
    assert entry.is_file() and f"Host {alias}" in entry.read_text()
    assert (entry.stat().st_mode & 0o777) == 0o600
    text = (ssh_dir / "config").read_text()
    assert text.startswith("# tazpod:") and text.endswith(USER_CONFIG)
    ssh = Ssh(ssh_dir, alias)

    who = ssh.run(alias, "id -un; echo $TAZPOD_CONTAINER; pwd")
    assert who.returncode == 0, who.stderr[-2000:]
    assert who.stdout.split()[:2] == ["tazpod", "1"]
    code = ssh.run(alias, "exit 7")
    assert code.returncode == 7

    # scp both ways (sftp underneath, OpenSSH 9's default)
    local = tmp_path / "blob.bin"
    local.write_bytes(os.urandom(300_000))
    sent = subprocess.run(
        [*ssh.base("scp"), str(local), f"{alias}:/tmp/blob.bin"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr
    back = tmp_path / "back.bin"
    got = subprocess.run(
        [*ssh.base("scp"), f"{alias}:/tmp/blob.bin", str(back)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    assert back.read_bytes() == local.read_bytes()

    # rsync -e ssh, a tree with a nested file
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "note.txt").write_text("synced\n")
    rsh = " ".join(ssh.base())
    synced = subprocess.run(
        ["rsync", "-a", "-e", rsh, f"{tree}/", f"{alias}:/tmp/tree/"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    assert ssh.run(alias, "cat /tmp/tree/sub/note.txt").stdout == "synced\n"

    # ssh -L to a server only the container's own loopback has (the container has no network)
    inner = 8765
    serve = pod.tazpod(
        "exec",
        "--",
        "sh",
        "-c",
        "mkdir -p /tmp/www && echo served-inside > /tmp/www/index.txt &&"
        f" cd /tmp/www && nohup setsid python3 -m http.server {inner}"
        " --bind 127.0.0.1 >/dev/null 2>&1 &",
    )
    assert serve.returncode == 0, serve.stderr
    outer = _free_port()
    tunnel = subprocess.Popen(
        [
            *ssh.base(),
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            f"127.0.0.1:{outer}:127.0.0.1:{inner}",
            alias,
        ],
        stdout=subprocess.DEVNULL,
        # a file, never an unread pipe: each refused try before the server is up is a line
        # of ssh's, and a full pipe would hold ssh (and its exit) on a write
        stderr=(tmp_path / "tunnel.err").open("wb"),
    )
    try:

        def fetched() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{outer}/index.txt", timeout=5) as r:
                    return str(r.read().decode())
            except OSError:
                return None

        assert _poll(fetched, 60) == "served-inside\n"
    finally:
        tunnel.terminate()
        tunnel.wait(30)


def test_no_root_no_password_agent_only_when_asked_and_remove_restores(
    pod: Pod, tmp_path: Path, engine: str, base_image: str
) -> None:
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text(USER_CONFIG)
    original = (ssh_dir / "config").read_bytes()
    alias = _alias(pod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir)).stdout)
    ssh = Ssh(ssh_dir, alias)

    as_root = ssh.run("-l", "root", alias, "id -u")
    assert as_root.returncode == 255 and "Permission denied" in as_root.stderr
    password = ssh.run(
        "-o", "PreferredAuthentications=password,keyboard-interactive", alias, "true"
    )
    assert password.returncode == 255 and "Permission denied" in password.stderr
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    # the entry's own settings, another key: refused (only the project's key is accepted)
    entry = (ssh_dir / "tazpod" / f"{pod.name}.conf").read_text().splitlines()
    options = [
        f"{key}={value}"
        for key, _, value in (line.strip().partition(" ") for line in entry[2:])
        if key not in ("IdentityFile", "User")
    ]
    other = [f"-o{option}" for option in options]
    other_key = subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            *other,
            "-i",
            str(stranger),
            f"tazpod@{alias}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other_key.returncode == 255 and "Permission denied" in other_key.stderr

    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    sock = agent_dir / "sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        assert _poll(sock.exists, 30)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        plain = ssh.run(alias, "echo ${SSH_AUTH_SOCK:-none}", env=env)
        assert plain.stdout.strip() == "none", plain.stderr
        asked = ssh.run("-A", alias, "ssh-add -l; echo code=$?", env=env)
        assert "code=1" in asked.stdout, asked.stdout + asked.stderr  # an agent, no keys
    finally:
        agent.terminate()
        agent.wait(10)

    # a second project gets an entry of its own
    second = new_project(
        "tazpod-ssh2-", "base", engine, lambda r: _configure(r, engine, base_image)
    )
    try:
        second_entry = second.tazpod("ssh-config", "--ssh-dir", str(ssh_dir))
        assert second_entry.returncode == 0, second_entry.stderr
        assert _alias(second_entry.stdout) != alias
        assert len(list((ssh_dir / "tazpod").glob("*.conf"))) == 2
        removed = second.tazpod("ssh-config", "--ssh-dir", str(ssh_dir), "--remove")
        assert removed.returncode == 0
    finally:
        shutil.rmtree(second.root, ignore_errors=True)
    assert (ssh_dir / "config").read_bytes() != original  # this project's entry is still in
    assert pod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir), "--remove").returncode == 0
    assert (ssh_dir / "config").read_bytes() == original
    assert not (ssh_dir / "tazpod").exists()
    gone = ssh.run(alias, "true", timeout=30)
    assert gone.returncode != 0


def test_a_stopped_container_is_named_in_ssh_s_error(pod: Pod, tmp_path: Path) -> None:
    ssh_dir = tmp_path / ".ssh"
    alias = _alias(pod.tazpod("ssh-config", "--ssh-dir", str(ssh_dir)).stdout)
    started = time.monotonic()
    refused = Ssh(ssh_dir, alias).run(alias, "true", timeout=60)
    assert refused.returncode == 255
    assert "does not exist" in refused.stderr and "tazpod up" in refused.stderr
    assert time.monotonic() - started < 60
