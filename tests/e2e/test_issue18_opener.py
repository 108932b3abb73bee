"""Issue 18: the vault opened from any shell in the container, with no sudo and no setuid
binary: the container user's `tazpod run`/`unlock`/`lock` reach root's opener (the
container's first process, started by `tazpod up`), which builds the enclave."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.system.conftest import wait_for
from tests.system.ptyutil import PtySession

from .conftest import Pod, _tazpod
from .enclave_checks import probe
from .test_container_lifecycle import PROBE

SECRET = "opened-inside"
INSIDE_PASSFILE = "/workspace/.passphrase"


def _inside(pod: Pod, *argv: str) -> subprocess.CompletedProcess[str]:
    """A plain session in the container as its user (no host-side enclave involvement)."""
    return pod.tazpod("exec", "--", *argv, timeout=300)


def _run_inside(pod: Pod, *command: str) -> subprocess.CompletedProcess[str]:
    return _inside(pod, "tazpod", "run", "--passphrase-file", INSIDE_PASSFILE, "--", *command)


def _hold_inside(pod: Pod, script: str) -> subprocess.Popen[str]:
    """An enclave opened from a plain session in the container, its command a `sleep`."""
    run = ["tazpod", "run", "--passphrase-file", INSIDE_PASSFILE, "--"]
    holder = subprocess.Popen(
        [_tazpod(), "exec", "--", *run, "sh", "-c", script],
        cwd=pod.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: _sleeper(pod) is not None, timeout=60)
    return holder


def _sleeper(pod: Pod) -> int | None:
    pids = pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-x", "sleep").stdout.split()
    return int(pids[0]) if pids else None


def test_run_from_a_plain_session_and_isolation_of_the_enclave_it_makes(pod: Pod) -> None:
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    top = pod.cli("top", pod.name)
    assert "container-init" in top.stdout, top.stdout
    wrote = _run_inside(pod, "sh", "-c", f'echo {SECRET} > "$TAZPOD_VAULT/token"')
    assert wrote.returncode == 0, wrote.stderr[-2000:]
    read = _run_inside(pod, "cat", "/home/tazpod/secrets/token")
    assert read.returncode == 0 and read.stdout == f"{SECRET}\n", read.stderr[-2000:]
    assert _run_inside(pod, "sh", "-c", "exit 5").returncode == 5
    where = _inside(
        pod,
        "sh",
        "-c",
        "mkdir -p /workspace/sub && cd /workspace/sub && tazpod run"
        f" --passphrase-file {INSIDE_PASSFILE} -- pwd",
    )
    assert where.stdout.strip() == "/workspace/sub", where.stderr
    wrong = _inside(
        pod, "sh", "-c", "echo wrong > /tmp/bad && tazpod run --passphrase-file /tmp/bad -- true"
    )
    assert wrong.returncode != 0 and "passphrase" in wrong.stderr.lower()
    root_file = _inside(pod, "tazpod", "run", "--passphrase-file", "/etc/shadow", "--", "true")
    assert root_file.returncode != 0 and "Permission denied" in root_file.stderr

    # an enclave opened from inside holds: the isolation checks of the e2e tier
    shutil.copy(PROBE, pod.root / "probe.py")
    (pod.root / "probe.py").chmod(0o755)
    holder = _hold_inside(
        pod, 'cd "$TAZPOD_VAULT"; exec env TOKEN="$(cat token)" sleep 120 < token'
    )
    pid = _sleeper(pod)
    assert pid is not None
    wait_for(lambda: probe(pod.cli, pod.name, "0", pid, SECRET)["proc_environ"] == "leaked", 30)
    same = probe(pod.cli, pod.name, "tazpod", pid, SECRET)
    assert same["file"] in ("absent", "denied") and same["directory"] in ("absent", "denied")
    for route in ("proc_root", "proc_cwd", "proc_environ", "proc_fd", "proc_mem", "ptrace"):
        assert same[route] == "denied", (route, same)

    # the waiting client holds nothing another session of the user can reach (the attack
    # review read the enclave's output through /proc/<client>/fd/1, and wrote its input)
    client = pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-f", "tazpod run --passphrase")
    client_pid = client.stdout.split()[0]
    for fd in ("0", "1", "2"):
        reach = pod.cli(
            "exec", "-u", "tazpod", pod.name, "sh", "-c", f"head -c1 /proc/{client_pid}/fd/{fd}"
        )
        assert reach.returncode != 0 and "Permission denied" in reach.stderr, (fd, reach)
    traced = pod.cli(
        "exec",
        "-u",
        "tazpod",
        pod.name,
        "python3",
        "-c",
        "import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True);"
        f" sys.exit(0 if libc.ptrace(16, {client_pid}, 0, 0) == 0 else 1)",
    )
    assert traced.returncode == 1, "PTRACE_ATTACH to the waiting client succeeded"

    # `tazpod lock` from another plain session: saved and closed
    locked = _inside(pod, "tazpod", "lock")
    assert locked.returncode == 0, locked.stderr
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err
    assert _inside(pod, "tazpod", "lock", "--check").stdout.strip() != "open"


def test_a_killed_client_saves_and_closes_the_enclave(pod: Pod) -> None:
    assert pod.tazpod("up").returncode == 0
    holder = _hold_inside(pod, 'echo kept > "$TAZPOD_VAULT/kept"; exec sleep 300')
    # the user's own tazpod process (the client) dies: the enclave is hung up and saved
    killed = pod.cli(
        "exec", "-u", "tazpod", pod.name, "pkill", "-KILL", "-f", "tazpod run --passphrase"
    )
    assert killed.returncode == 0, killed.stderr
    holder.communicate(timeout=120)
    wait_for(lambda: _sleeper(pod) is None, timeout=120)
    again = _run_inside(pod, "cat", "/home/tazpod/secrets/kept")
    assert again.stdout == "kept\n", again.stderr


def test_a_settings_change_needs_the_hosts_approval_which_reaches_the_opener(pod: Pod) -> None:
    assert pod.tazpod("up").returncode == 0
    config = pod.root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("ssh_agent: false", "ssh_agent: true"))
    refused = _run_inside(pod, "true")
    assert refused.returncode != 0 and "approve" in refused.stderr, refused.stderr
    trusted = pod.tazpod("trust", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    assert "handed to the running container" in trusted.stderr
    accepted = _run_inside(pod, "true")
    assert accepted.returncode == 0, accepted.stderr[-2000:]


def test_the_engines_stop_saves_an_enclave_opened_inside(pod: Pod) -> None:
    assert pod.tazpod("up").returncode == 0
    # its command ignores the hang-up: the supervisor kills it after its grace, then saves,
    # all within the engine's 10 seconds (the attack review lost this save: F5)
    holder = _hold_inside(
        pod, 'echo before-stop > "$TAZPOD_VAULT/stopped"; trap "" HUP TERM; exec sleep 300'
    )
    stopped = pod.cli("stop", pod.name)
    assert stopped.returncode == 0, stopped.stderr
    holder.communicate(timeout=120)
    assert pod.tazpod("up").returncode == 0
    again = _run_inside(pod, "cat", "/home/tazpod/secrets/stopped")
    assert again.stdout == "before-stop\n", again.stderr


def test_unlock_typed_on_a_terminal_in_the_container(pod: Pod) -> None:
    """`tazpod ssh`, then `tazpod unlock` typed in it: root's prompt on a terminal of its own,
    relayed to the user's, which is root's while it reads; the shell, its exit code."""
    assert pod.tazpod("up").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    session = PtySession([_tazpod(), "exec", "--", "bash", "--norc", "-i"], env, pod.root)
    session.expect(r"\$ $")
    session.send("PS1='inside$ '; tazpod unlock\n")
    session.expect("runs `tazpod unlock` for you")
    session.expect("passphrase")
    user_tty = "stat -L -c %U:%a /proc/$(pgrep -o -u tazpod -x bash)/fd/0"
    owner = pod.cli("exec", "-u", "tazpod", pod.name, "sh", "-c", user_tty)
    session.send("typed passphrase\n")
    session.expect("repeat")
    session.send("typed passphrase\n")
    session.expect(r"\$ $")
    session.send('echo "tty=$(tty) user=$(id -un)" > ~/secrets/who; cat ~/secrets/who; exit 7\n')
    session.expect("inside\\$ ")
    given_back = pod.cli("exec", "-u", "tazpod", pod.name, "sh", "-c", user_tty)
    session.send("echo code=$?; exit\n")
    assert session.wait() == 0, session.output
    assert "user=tazpod" in session.output and "code=7" in session.output
    assert owner.stdout.strip() == "root:600", owner.stdout + owner.stderr
    assert given_back.stdout.strip() == "tazpod:620", given_back.stdout + given_back.stderr
