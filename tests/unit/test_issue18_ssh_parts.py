"""Issue 18's parts without an engine: the ssh config files, sshd's settings, the
opener's requests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tazpod.enclave import opener
from tazpod.errors import UsageError
from tazpod.remote import sshconfig, sshd


def _entry(
    tmp_path: Path, container: str = "tazpod-demo-1234567", alias: str = "tazpod-demo"
) -> sshconfig.Entry:
    return sshconfig.Entry(
        alias=alias,
        project=tmp_path / "my project",
        container=container,
        user="tazpod",
        proxy=["/usr/bin/python3", "-I", "-m", "tazpod", "ssh", "--stdio", "--project", "/p/100%"],
        identity=tmp_path / "keys" / "id_ed25519",
        known_hosts=tmp_path / "keys" / "known_hosts",
        agent=False,
    )


@pytest.mark.parametrize("original", [None, b"", b"Host x\n  User me\n", b"\n\nHost y\n"])
def test_remove_leaves_the_users_config_byte_for_byte(
    tmp_path: Path, original: bytes | None
) -> None:
    base = tmp_path / ".ssh"
    base.mkdir(mode=0o700)
    config = base / "config"
    if original is not None:
        config.write_bytes(original)
        config.chmod(0o644)
    sshconfig.install(_entry(tmp_path), base)
    sshconfig.install(_entry(tmp_path, "tazpod-other-7654321", "tazpod-other"), base)
    text = config.read_text()
    assert text.startswith("# tazpod:") and text.count("Include ") == 1
    if original:
        assert text.endswith(original.decode()) and (config.stat().st_mode & 0o777) == 0o644
    assert sshconfig.remove("tazpod-demo-1234567", base)
    assert "Include" in config.read_text()  # the other project's entry stays included
    assert sshconfig.remove("tazpod-other-7654321", base)
    if original is None:
        assert not config.exists()
    else:
        assert config.read_bytes() == original
    assert not (base / "tazpod").exists()
    assert not sshconfig.remove("tazpod-other-7654321", base)


def test_a_linked_config_stays_a_link(tmp_path: Path) -> None:
    base = tmp_path / ".ssh"
    base.mkdir()
    real = tmp_path / "dotfiles-ssh-config"
    real.write_text("Host z\n")
    (base / "config").symlink_to(real)
    sshconfig.install(_entry(tmp_path), base)
    assert (base / "config").is_symlink() and "Include" in real.read_text()
    sshconfig.remove("tazpod-demo-1234567", base)
    assert real.read_text() == "Host z\n"


def test_the_entry_quotes_paths_and_escapes_ssh_tokens(tmp_path: Path) -> None:
    text = sshconfig.render(_entry(tmp_path))
    assert "  ProxyCommand /usr/bin/python3 -I -m tazpod ssh --stdio --project /p/100%%" in text
    assert f'  IdentityFile "{tmp_path}/keys/id_ed25519"' in text
    assert "  ForwardAgent no" in text and "  StrictHostKeyChecking yes" in text
    assert "LocalForward" not in text


def test_another_projects_alias_is_seen(tmp_path: Path) -> None:
    base = tmp_path / ".ssh"
    sshconfig.install(_entry(tmp_path), base)
    assert sshconfig.alias_taken("tazpod-demo", "tazpod-second-1111111", base)
    assert not sshconfig.alias_taken("tazpod-demo", "tazpod-demo-1234567", base)


def test_sshd_settings_allow_keys_only_and_carry_the_containers_environment(tmp_path: Path) -> None:
    environ = tmp_path / "environ"
    environ.write_bytes(b'PATH=/opt/x/bin:/usr/bin\0HOME=/root\0QUOTED=a"b\0TAZPOD_CONTAINER=1\0')
    text = sshd.sshd_config("tazpod", environ)
    lines = text.splitlines()
    assert sum(line.startswith("SetEnv") for line in lines) == 1  # sshd reads only the first
    setenv = next(line for line in lines if line.startswith("SetEnv"))
    assert '"PATH=/opt/x/bin:/usr/bin"' in setenv and "TAZPOD_CONTAINER=1" in setenv
    assert "HOME" not in setenv and "QUOTED" not in setenv
    for line in (
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "AllowUsers tazpod",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding local",
        "PermitUserEnvironment no",
        "X11Forwarding no",
    ):
        assert line in lines


def test_the_ssh_header_is_read_without_taking_the_stream_behind_it() -> None:
    read_end, write_end = os.pipe()
    header = {"user": "tazpod", "authorized_key": "ssh-ed25519 AAAA", "host_key": "KEY"}
    os.write(write_end, json.dumps(header).encode() + b"\nSSH-2.0-OpenSSH_9\r\n")
    os.close(write_end)
    assert sshd.read_header(read_end) == header
    assert os.read(read_end, 100) == b"SSH-2.0-OpenSSH_9\r\n"
    os.close(read_end)


@pytest.mark.parametrize(
    "request_, expected",
    [
        ({"op": "unlock"}, ["unlock"]),
        ({"op": "lock", "command": ["x"]}, ["lock"]),
        (
            {"op": "run", "command": ["--passphrase-file", "/etc/shadow"]},
            ["run", "--", "--passphrase-file", "/etc/shadow"],
        ),
        ({"op": "run", "sync": True, "command": ["env"]}, ["run", "--sync", "--", "env"]),
    ],
)
def test_the_opener_builds_roots_command_line_from_the_request_alone(
    request_: dict[str, object], expected: list[str]
) -> None:
    assert opener.inner_argv(request_, passphrase=False) == expected


@pytest.mark.parametrize(
    "request_",
    [{"op": "pull"}, {"op": "run"}, {"op": "run", "command": [1]}, {"op": "vault"}],
)
def test_the_opener_refuses_what_it_does_not_do(request_: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        opener.inner_argv(request_, passphrase=False)


def test_the_opener_passes_only_the_terminal_type_and_an_absolute_cwd() -> None:
    env = opener._environment({"term": "xterm-256color; rm", "cwd": "relative"})
    assert "TERM" not in env or env["TERM"] != "xterm-256color; rm"
    assert "TAZPOD_WORKDIR" not in env
    env = opener._environment({"term": "xterm-256color", "cwd": "/workspace/sub"})
    assert env["TERM"] == "xterm-256color" and env["TAZPOD_WORKDIR"] == "/workspace/sub"
    assert env["PATH"].startswith("/usr/local/sbin") and env["HOME"] == "/root"


def test_a_terminal_that_is_not_the_requesters_own_is_refused() -> None:
    """The attack review's F4: a same-uid process handed the opener another session's
    terminal, and root's prompt appeared there for the attacker's command."""
    master, slave = os.openpty()  # a terminal, but nobody's controlling terminal
    read_end, write_end = os.pipe()
    try:
        problem = opener.foreign_terminal(os.getpid(), [slave, slave, write_end])
        assert problem is not None and "not your session's own" in problem
        assert opener.foreign_terminal(os.getpid(), [read_end, write_end, write_end]) is None
    finally:
        for fd in (master, slave, read_end, write_end):
            os.close(fd)


def test_the_controlling_terminal_is_read_from_proc(tmp_path: Path) -> None:
    from tazpod.sysio import procfs

    assert procfs.terminal_of(2**22 + 12345) is None  # no such process
    pid = os.fork()
    if pid == 0:  # a new session on a pty of its own: its controlling terminal
        os.setsid()
        _master, slave = os.openpty()
        import fcntl
        import termios

        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        found = procfs.terminal_of(os.getpid())
        info = os.fstat(slave)
        ok = found is not None and found[:2] == (os.major(info.st_rdev), os.minor(info.st_rdev))
        os._exit(0 if ok else 1)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a terminal's owner needs root")
def test_the_users_terminal_is_roots_while_root_reads_it_and_given_back() -> None:
    master, slave = os.openpty()
    try:
        os.fchown(slave, 12345, -1)
        os.fchmod(slave, 0o620)
        held = opener._hold_terminal(slave)
        info = os.fstat(slave)
        assert (info.st_uid, info.st_mode & 0o777) == (0, 0o600)
        opener._release_terminal(held)
        info = os.fstat(slave)
        assert (info.st_uid, info.st_mode & 0o777) == (12345, 0o620)
    finally:
        os.close(master)
        os.close(slave)
