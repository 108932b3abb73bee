"""Issue 16: container root is not host root where the engine allows it (rootless Podman).

A user of the host's own (tzrootless, uid ≠ 1000) runs tazpod with rootless Podman: their
store gets the base vertical this session built, changed so that its user `tazpod` is uid
1500. `up` maps the host user to the container's user (`--userns=keep-id`): its first
guess (uid 1000) is wrong for this image, so it reads the user's ids from the container it
made and makes it again. Then container root is a subordinate uid of that user, the
workspace is the user's on both sides, `status` says so, and the enclave opens, keeps other
sessions out, saves on `lock` and reopens as under plain Docker.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tazpod import __version__

from .conftest import PASSPHRASE, PODMAN_ULIMITS, _tazpod
from .enclave_checks import Remapped, check_round_trip

pytestmark = pytest.mark.e2e

USER = "tzrootless"
IMAGE = "localhost/tazpod-uid1500:e2e"
Completed = subprocess.CompletedProcess[str]


@dataclass
class HostUser:
    name: str
    uid: int
    gid: int
    home: Path

    def argv(self, args: list[str], cwd: Path) -> list[str]:
        """ARGS as this user, in a login-like environment of theirs (no root's variables)."""
        return [
            "runuser",
            "-u",
            self.name,
            "--",
            "env",
            "-i",
            "-C",
            str(cwd),
            f"HOME={self.home}",
            f"USER={self.name}",
            f"LOGNAME={self.name}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            *args,
        ]

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> Completed:
        return subprocess.run(
            self.argv(list(args), cwd or self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def podman(self, *args: str) -> Completed:
        return self.run("podman", *args)


def _subordinate(path: Path, name: str) -> bool:
    return any(line.split(":")[0] == name for line in path.read_text().splitlines())


@pytest.fixture
def rootless() -> Iterator[HostUser]:
    if subprocess.run(["getent", "passwd", USER], capture_output=True).returncode:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    if not (_subordinate(Path("/etc/subuid"), USER) and _subordinate(Path("/etc/subgid"), USER)):
        ranges = "400000-465535"
        subprocess.run(
            ["usermod", "--add-subuids", ranges, "--add-subgids", ranges, USER], check=True
        )
    entry = pwd.getpwnam(USER)
    user = HostUser(USER, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
    assert user.uid != 1000  # the case keep-id must get right: the host user is not 1000
    user.podman("system", "reset", "--force")  # a store of this run's images only
    try:
        yield user
    finally:
        user.podman("system", "reset", "--force")  # the store's layers are full copies (vfs)


def _image_with_uid_1500(user: HostUser) -> None:
    """The base vertical of this session, in the user's store, its user moved to uid 1500."""
    saved = subprocess.Popen(
        ["podman", "save", f"localhost/tazpod-base:{__version__}"], stdout=subprocess.PIPE
    )
    loading = subprocess.Popen(
        user.argv(["podman", "load"], user.home),
        stdin=saved.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert saved.stdout is not None
    saved.stdout.close()  # the load's alone: if it stops early, the save ends too
    _out, err = loading.communicate(timeout=600)
    assert saved.wait(timeout=60) == 0 and loading.returncode == 0, err
    moved = user.podman(
        "run",
        "--name",
        "tazpod-uid1500",
        "--network",
        "none",
        f"localhost/tazpod-base:{__version__}",
        "sh",
        "-c",
        "usermod -u 1500 tazpod && groupmod -g 1500 tazpod && chown -R 1500:1500 /home/tazpod",
    )
    assert moved.returncode == 0, moved.stderr
    committed = user.podman("commit", "tazpod-uid1500", IMAGE)
    assert committed.returncode == 0, committed.stderr
    user.podman("rm", "-f", "tazpod-uid1500")


@pytest.mark.parametrize("engine", ["podman"], indirect=True)
def test_issue16_rootless_podman_root_is_a_subordinate_uid_and_the_user_owns_the_workspace(
    engine: str, vertical_built: None, rootless: HostUser
) -> None:
    _image_with_uid_1500(rootless)
    root = Path(tempfile.mkdtemp(prefix="tazpod-e2e-rootless-", dir="/var/tmp"))
    root.chmod(0o755)
    os.chown(root, rootless.uid, rootless.gid)
    try:

        def tazpod(*args: str) -> Completed:
            return rootless.run(_tazpod(), *args, cwd=root)

        assert tazpod("init", "base").returncode == 0
        config = root / ".tazpod" / "config.yaml"
        text = config.read_text().replace("engine: docker", "engine: podman")
        text = re.sub(r"(?m)^image: .*$", f'image: "{IMAGE}"', text)
        config.write_text(text + PODMAN_ULIMITS)
        passfile = root / ".passphrase"
        passfile.write_text(PASSPHRASE + "\n")
        for path in (config, passfile):
            os.chown(path, rootless.uid, rootless.gid)
        passfile.chmod(0o600)
        trusted = tazpod("trust", "--yes")
        assert trusted.returncode == 0, trusted.stderr

        up = tazpod("up")
        assert up.returncode == 0, up.stderr
        name = next(
            line.split(":", 1)[1].strip().strip('"')
            for line in config.read_text().splitlines()
            if line.startswith("container_name:")
        )
        status = tazpod("status")
        found = re.search(
            r"user ns: +container root is host uid (\d+); tazpod \(uid 1500\) is host uid (\d+)",
            status.stdout,
        )
        assert found is not None, status.stdout + status.stderr
        container_root, user_uid = int(found[1]), int(found[2])
        assert user_uid == rootless.uid
        assert container_root >= 100000  # a subordinate uid: no one's on this host
        pid = int(rootless.podman("inspect", "-f", "{{.State.Pid}}", name).stdout)
        host_uids = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:4]
        # container root, seen from the host (keep-id alone would run it as the user)
        assert host_uids == [str(container_root)] * 4
        signalled = rootless.podman("exec", "-u", "tazpod", name, "kill", "-TERM", "1")
        assert signalled.returncode != 0  # the user cannot stop the container from inside
        made = rootless.podman("exec", "-u", "0", name, "touch", "/workspace/by-root")
        assert made.returncode == 0, made.stderr
        assert (root / "by-root").stat().st_uid == container_root

        box = Remapped(
            root,
            name,
            passfile,
            tazpod=tazpod,
            popen=lambda args: subprocess.Popen(
                rootless.argv([_tazpod(), *args], root),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            cli=lambda *args: rootless.podman(*args),
        )
        check_round_trip(box, owner=(rootless.uid, rootless.gid))
        down = tazpod("down")
        assert down.returncode == 0, down.stderr
        assert rootless.podman("container", "exists", name).returncode != 0
    finally:
        rootless.podman("rm", "-af")
        shutil.rmtree(root, ignore_errors=True)
