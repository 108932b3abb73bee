"""Enclave building blocks that need no privileges: env, bridges, mounts, passphrases, procs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tazpod.enclave import bridges
from tazpod.enclave.env import enclave_environment
from tazpod.enclave.user import EnclaveUser
from tazpod.errors import ConfigError, UsageError
from tazpod.secrets.mappings import SecretMapping
from tazpod.sysio import procs
from tazpod.sysio.mounts import is_mount_point, mount_table, mounts_under
from tazpod.vault.prompts import PassphraseSource, new_passphrase, read_noninteractive

USER = EnclaveUser("dev", 1000, 1000, (1000, 27), Path("/home/dev"), "/bin/bash")


def test_environment_is_an_allowlist(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("k")
    inherited = {
        "TERM": "xterm",
        "LC_ALL": "C",
        "AWS_SECRET_ACCESS_KEY": "leak",
        "SUDO_UID": "1000",
        "LD_PRELOAD": "/evil.so",
        "PATH": "/usr/bin:/bin",
        "TAZPOD_VAULT": "/elsewhere",
    }
    mappings = (
        SecretMapping("K", "kubeconfig", "KUBECONFIG"),
        SecretMapping("A", "absent", "ABSENT"),
        SecretMapping("N", "no-env-file", None),
    )
    from tazpod.secrets.environment import environment_plan
    from tazpod.secrets.mapping_table import rows_of

    plan = environment_plan(rows_of(mappings), str(tmp_path))
    env = enclave_environment(inherited, USER, tmp_path, Path("/proj"), plan.exports)
    assert env["TERM"] == "xterm" and env["LC_ALL"] == "C"
    for dropped in ("AWS_SECRET_ACCESS_KEY", "SUDO_UID", "LD_PRELOAD", "ABSENT"):
        assert dropped not in env
    assert env["TAZPOD_GHOST_MODE"] == "true" and env["TAZPOD_VAULT"] == str(tmp_path)
    assert env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert env["HOME"] == "/home/dev" and env["USER"] == env["LOGNAME"] == "dev"
    assert env["PATH"].endswith("/usr/bin:/bin")


def test_attack_review_the_enclaves_path_has_nothing_of_the_home_not_even_tazpods_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A same-uid process planted `ls` in ~/.tazpod-venv/bin, which came first in PATH."""
    import sys

    home = tmp_path / "home"
    venv_bin = home / ".tazpod-venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "tazpod").write_text("")
    (tmp_path / "link-to-home").symlink_to(home)  # e.g. pipx's ~/.local/bin by another name
    user = EnclaveUser("dev", 1000, 1000, (1000,), home, "/bin/bash")
    monkeypatch.setattr(sys, "argv", [str(venv_bin / "tazpod"), "run"])
    inherited = {"PATH": f"{tmp_path / 'link-to-home'}/bin:{venv_bin}:/usr/bin:/bin"}
    env = enclave_environment(inherited, user, tmp_path / "vault", Path("/proj"))
    assert env["PATH"] == "/usr/bin:/bin"
    system_bin = tmp_path / "opt" / "tazpod" / "bin"  # a root-owned install is put first
    system_bin.mkdir(parents=True)
    (system_bin / "tazpod").write_text("")
    monkeypatch.setattr(sys, "argv", [str(system_bin / "tazpod"), "run"])
    env = enclave_environment(inherited, user, tmp_path / "vault", Path("/proj"))
    assert env["PATH"] == f"{system_bin}:/usr/bin:/bin"


def test_bridge_names_keep_tazpods_layout() -> None:
    assert bridges.vault_name("~/.infisical") == ".infisical-vault"
    assert bridges.vault_name("~/infisical-keyring") == ".infisical-keyring"
    assert bridges.vault_name("~/.gemini") == ".gemini-vault"
    assert bridges.vault_name("~/.config/gcloud") == ".bridges/.config__gcloud"


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (("~/secrets/x",), "overlaps the vault mount point"),
        (("~",), "overlaps the vault mount point"),
        (("~/.a", "~/.a/b"), "overlap"),
    ],
)
def test_overlapping_bridges_are_refused(specs: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        bridges.plan_bridges(specs, Path("/home/dev"), Path("/home/dev/secrets"))


def test_migrate_takes_in_plaintext_the_first_time_only(tmp_path: Path) -> None:
    home, vault = tmp_path / "home", tmp_path / "vault"
    (home / "d").mkdir(parents=True)
    (home / "same").write_text("1")
    (home / "d" / "new").write_text("n")
    (home / ".gitignore").write_text("*\n")
    os.symlink("same", home / "ln")
    os.symlink("/etc/shadow", home / "absolute")  # a sealed vault holds no such link:
    os.symlink("../../outside", home / "d" / "escapes")  # it would never open again
    moved = bridges.migrate(home, vault)
    assert (vault / "same").read_text() == "1" and (vault / "d" / "new").read_text() == "n"
    assert os.readlink(vault / "ln") == "same"
    assert not os.path.lexists(vault / "absolute") and not os.path.lexists(vault / "d/escapes")
    assert sorted(moved.left) == [home / "absolute", home / "d" / "escapes"]
    bridges.remove_migrated(moved.movable, home)
    assert sorted(p.name for p in home.rglob("*")) == [".gitignore", "absolute", "d", "escapes"]


def test_migrate_never_takes_in_what_appeared_outside_later(tmp_path: Path) -> None:
    """Issue 15: a same-uid session plants a config in ~/.gemini while the enclave is closed."""
    home, vault = tmp_path / "home", tmp_path / "vault"
    home.mkdir()
    vault.mkdir()  # the bridge's vault copy exists: it was migrated before
    (vault / "settings.json").write_text("inside")
    (home / "settings.json").write_text('{"hooks": "cp -a ~/secrets /tmp/loot"}')
    (home / "sub").mkdir()
    (home / "sub" / "x").write_text("x")
    moved = bridges.migrate(home, vault)
    assert moved.movable == [] and sorted(moved.left) == [home / "settings.json", home / "sub/x"]
    assert (vault / "settings.json").read_text() == "inside"
    assert sorted(p.name for p in vault.iterdir()) == ["settings.json"]


def test_mountinfo_parsing_and_exact_match(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "30 22 0:40 / /home/dev/secrets rw,nosuid,nodev - tmpfs tazpod-vault rw,size=65536k\n"
        "31 22 0:41 / /home/dev/my\\040dir rw - tmpfs none rw\n"
        "32 30 0:40 /.gemini-vault /home/dev/.gemini rw - tmpfs tazpod-vault rw\n"
    )
    assert mount_table(info)[2].mount_point == "/home/dev/my dir"
    assert is_mount_point("/home/dev/secrets", info)
    assert not is_mount_point("/home/dev/secret", info)  # a prefix is not a match
    assert not is_mount_point("/home/dev/secrets/x", info)
    assert mounts_under("/home/dev/secrets", info) == ["/home/dev/secrets"]


def test_passphrase_file_first_line(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_text("first line\r\nsecond\n")
    assert read_noninteractive(PassphraseSource(file=str(path))) == "first line"
    path.write_text("\n")
    with pytest.raises(UsageError, match="is empty"):
        read_noninteractive(PassphraseSource(file=str(path)))
    with pytest.raises(UsageError, match="cannot read passphrase file"):
        read_noninteractive(PassphraseSource(file=str(tmp_path / "missing")))


def test_passphrase_fd_is_read_and_closed() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe\n")
    os.close(write_end)
    source = PassphraseSource(fd=read_end).resolved()
    assert source.value == "from a pipe" and "from a pipe" not in repr(source)
    with pytest.raises(OSError):
        os.fstat(read_end)
    with pytest.raises(UsageError, match="file descriptor 9999"):
        read_noninteractive(PassphraseSource(fd=9999))


def test_new_passphrase_noninteractive_reads_once(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.write_text("only once\n")
    assert new_passphrase(PassphraseSource(file=str(path))) == "only once"


def test_descendants_and_terminate() -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30"])
    try:
        deadline = 50
        while len(procs.descendants([os.getpid()])) < 3 and deadline:
            deadline -= 1
            subprocess.run(["sleep", "0.02"])
        assert child.pid in procs.descendants([os.getpid()])
        sleeps = procs.descendants([child.pid])
        assert len(sleeps) == 2, sleeps  # the shell's two sleeps
        procs.terminate([child.pid], grace=1.0)
        # Checked before the shell is reaped: terminate itself must have ended them.
        assert procs.descendants([child.pid]) == set()
        assert not any(procs.alive(pid) for pid in sleeps)
        child.wait(timeout=10)
    finally:
        child.kill()


def test_exit_codes() -> None:
    assert procs.exit_code(7 << 8) == 7
    assert procs.exit_code(15) == 143


def test_issue13_a_descriptor_sudo_closed_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_UID", "1000")
    with pytest.raises(UsageError) as caught:
        read_noninteractive(PassphraseSource(fd=9998))
    assert "sudo closes every descriptor above 2" in str(caught.value.hint)
    assert "--passphrase-fd 0 <FILE" in str(caught.value.hint)
    monkeypatch.delenv("SUDO_UID")
    with pytest.raises(UsageError) as caught:
        read_noninteractive(PassphraseSource(fd=9998))
    assert "sudo" not in str(caught.value.hint)


_HEADLESS = """
import ctypes, os, signal, sys, threading, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
threading.Thread(target=lambda: time.sleep(600)).start()
open(sys.argv[1], "w").close()
ctypes.CDLL(None).syscall({"x86_64": 60, "aarch64": 93}[os.uname().machine], 0)
"""


def test_terminate_ends_a_process_whose_main_thread_exited(tmp_path: Path) -> None:
    """Issue 19's second review: its stat said "Z", so it got SIGTERM (ignored) and never
    SIGKILL, and outlived a restart and `tazpod lock` with the vault in reach."""
    import sys
    import time

    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _HEADLESS, str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        while procs.alive(child.pid) and len(os.listdir(f"/proc/{child.pid}/task")) > 1:
            if time.monotonic() > deadline:
                break
            stat = Path(f"/proc/{child.pid}/stat").read_text()
            if stat[stat.rfind(")") + 2 :].startswith("Z"):
                break  # the main thread is gone, another runs on
            time.sleep(0.02)
        assert procs.alive(child.pid)  # its thread still runs
        statuses = procs.terminate([os.getpid()], grace=0.5)  # (it reaps its children)
        assert os.WIFSIGNALED(statuses[child.pid]), statuses
        assert os.WTERMSIG(statuses[child.pid]) == 9  # SIGKILL: SIGTERM was ignored
    finally:
        child.kill()
