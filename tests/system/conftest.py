"""System tier: real namespaces, mounts and users. Needs root; never skipped.

Tests run the installed `tazpod` as root with SUDO_UID/SUDO_GID set, exactly
as `sudo tazpod ...` would, for an unprivileged test user. Projects live in
/var/tmp so that user can reach them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# Two test users; another pair (TAZPOD_TEST_USERS=a,b) keeps two runs on one machine apart.
USERS = tuple(os.environ.get("TAZPOD_TEST_USERS", "tzsys,tzsys2").split(","))
PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path


def _ensure_user(name: str) -> User:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    home.mkdir(exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    os.chmod(home, 0o755)  # so the matrix can show that the secrets dir itself looks empty
    return User(name, entry.pw_uid, entry.pw_gid, home)


@pytest.fixture(autouse=True, scope="session")
def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the system tier needs root (namespaces, mounts); run ./scripts/test as root")


@pytest.fixture(scope="session")
def tazpod_bin() -> Path:
    binary = Path(sys.executable).parent / "tazpod"
    assert binary.exists(), f"{binary} missing: run the tests through ./scripts/test"
    path = binary.resolve()
    for part in (path, *path.parents):
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            pytest.fail(f"{part} is not reachable by other users; use ./scripts/test as root")
    return binary


@pytest.fixture(scope="session")
def user() -> User:
    return _ensure_user(USERS[0])


@pytest.fixture(scope="session")
def other_user() -> User:
    return _ensure_user(USERS[1])


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    path.chmod(0o600)
    return path


@dataclass
class Project:
    root: Path
    user: User
    binary: Path
    passfile: Path

    @property
    def vault_dir(self) -> Path:
        return self.root / ".tazpod" / "vault"

    @property
    def secrets(self) -> Path:
        return self.user.home / "secrets"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAZPOD_")}
        env.update(SUDO_UID=str(self.user.uid), SUDO_GID=str(self.user.gid))
        env["SUDO_USER"] = self.user.name
        return env

    def tazpod(
        self, *args: str, timeout: float = 60, check: bool = False, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.tazpod(
            "run", "--passphrase-file", str(self.passfile), "--", *command, timeout=timeout
        )

    def start(self, *command: str) -> subprocess.Popen[str]:
        """`tazpod run` in the background (the caller waits or signals it)."""
        return subprocess.Popen(
            [str(self.binary), "run", "--passphrase-file", str(self.passfile), "--", *command],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def set_config(self, old: str, new: str) -> None:
        config = self.root / ".tazpod" / "config.yaml"
        text = config.read_text()
        assert old in text
        config.write_text(text.replace(old, new))
        self.trust()

    def set_secrets(self, text: str) -> None:
        (self.root / "secrets.yml").write_text(text)
        self.trust()

    def trust(self) -> None:
        """What the user does on the host after editing config.yaml or secrets.yml."""
        done = as_user(self.user, [str(self.binary), "trust", "--yes"], cwd=self.root)
        assert done.returncode == 0, done.stderr


def as_user(user: User, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run argv as ``user`` outside any enclave."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", *argv],
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture
def project(user: User, tazpod_bin: Path, passfile: Path) -> Iterator[Project]:
    root = Path(tempfile.mkdtemp(prefix="tazpod-sys-", dir="/var/tmp"))
    root.chmod(0o755)
    os.chown(root, user.uid, user.gid)
    as_user(user, [str(tazpod_bin), "init", "base"], cwd=root, check=True)
    proj = Project(root, user, tazpod_bin, passfile)
    # Bridges touch the shared home directory: tests that want them set their own.
    proj.set_config(
        "  bridges:\n    - ~/.infisical\n    - ~/infisical-keyring\n    - ~/.gemini\n",
        "  bridges: []\n",
    )
    yield proj
    _kill_user_processes(user)
    shutil.rmtree(root, ignore_errors=True)


def _kill_user_processes(user: User) -> None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == user.uid:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    time.sleep(0.05)


# A shell snippet for a process inside the enclave: wait (at most 120 s) until a file exists,
# so that the test decides when the enclave may end instead of a fixed sleep deciding for it.
WAIT_FOR_FILE = "i=0; until [ -e %s ] || [ $i -ge 1200 ]; do sleep 0.1; i=$((i+1)); done"


def running(*argv: str) -> bool:
    """Some process runs exactly this command line."""
    wanted = "\0".join(argv).encode() + b"\0"
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                    return True
            except OSError:
                pass
    return False


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")
