"""The main job end to end on a real Docker engine, with the enclave inside the container."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tazpod.errors import ExitCode
from tests.system.conftest import wait_for
from tests.system.ptyutil import PtySession

from .conftest import Pod, _tazpod
from .enclave_checks import probe

PROBE = Path(__file__).parent.parent / "system" / "probe.py"
SECRET = "e2e-secret-value"


def ulimits(pod: Pod) -> list[str]:
    if pod.engine != "podman":
        return []
    return ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def _hold(pod: Pod, script: str) -> subprocess.Popen[str]:
    """`tazpod run -- sh -c SCRIPT` from the host, in the background: an open enclave."""
    return subprocess.Popen(
        [_tazpod(), "run", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", script],
        cwd=pod.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _probe(pod: Pod, user: str, pid: int) -> dict[str, str]:
    return probe(pod.cli, pod.name, user, pid, SECRET)


def test_init_up_unlock_isolate_down_up_again(pod: Pod) -> None:
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    assert "created and started" in up.stdout
    again = pod.tazpod("up")
    assert again.returncode == 0 and "already running" in again.stdout

    whoami = pod.tazpod("exec", "--", "sh", "-c", "id -u; pwd; exit 3")
    assert whoami.returncode == 3 and whoami.stdout.split() == ["1000", "/workspace"]
    sudo = pod.tazpod("exec", "--", "sh", "-c", "command -v sudo || echo no-sudo")
    assert sudo.stdout.strip() == "no-sudo"

    shutil.copy(PROBE, pod.root / "probe.py")
    (pod.root / "probe.py").chmod(0o755)
    holder = _hold(
        pod,
        f'echo {SECRET} > "$TAZPOD_VAULT/token"; cd "$TAZPOD_VAULT";'
        f' exec env TOKEN="$(cat token)" sleep 120 < token',
    )

    def enclave_pid() -> int | None:
        done = pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-x", "sleep")
        pids = done.stdout.split()
        return int(pids[0]) if pids else None

    wait_for(lambda: enclave_pid() is not None, timeout=60)
    pid = enclave_pid()
    assert pid is not None
    # exec names the process before it sets up its environment: probe once both are done.
    wait_for(lambda: _probe(pod, "0", pid)["proc_environ"] == "leaked", timeout=30)
    # A second session as the same user: nothing, by any path.
    same = _probe(pod, "tazpod", pid)
    assert same["file"] in ("absent", "denied") and same["directory"] in ("absent", "denied")
    for route in ("proc_root", "proc_cwd", "proc_environ", "proc_fd", "proc_mem", "ptrace"):
        assert same[route] == "denied", (route, same)
    # Another uid in the container.
    pod.cli("exec", "-u", "0", pod.name, "useradd", "-u", "1001", "other")
    other = _probe(pod, "1001", pid)
    assert all(v in ("absent", "denied") for v in other.values()), other
    # Container root (no CAP_SYS_PTRACE) owns the enclave's user namespace: it reaches
    # the enclave, as docs/security.md says (it also owns the tazpod that opens it).
    root = _probe(pod, "0", pid)
    assert root["proc_root"] == "leaked" and root["proc_environ"] == "leaked", root

    # The forwarded command: the image's tazpod, isolated, with the host's approved digest.
    pod.cli("exec", "-u", "0", pod.name, "pkill", "-TERM", "-f", "python -I -m tazpod .* run ")
    _out, err = holder.communicate(timeout=60)
    assert "vault saved" in err, err

    down = pod.tazpod("down")
    assert down.returncode == 0 and "removed (workspace and vault kept)" in down.stdout
    assert pod.cli("inspect", pod.name).returncode != 0
    assert pod.tazpod("up").returncode == 0
    read_end = os.open(pod.passfile, os.O_RDONLY)  # and this time by an inherited fd
    done = subprocess.run(
        [
            _tazpod(),
            "run",
            "--passphrase-fd",
            str(read_end),
            "--",
            "cat",
            "/home/tazpod/secrets/token",
        ],
        cwd=pod.root,
        capture_output=True,
        text=True,
        pass_fds=(read_end,),
        timeout=120,
    )
    os.close(read_end)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == SECRET


def test_interactive_unlock_through_a_terminal(pod: Pod) -> None:
    assert pod.tazpod("up").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    session = PtySession([_tazpod(), "unlock"], env, pod.root)
    session.expect("passphrase for the new vault")
    session.send("typed passphrase\n")
    session.expect("repeat")
    session.send("typed passphrase\n")
    session.expect(r"\$ $")
    session.send('echo "tty=$(tty) user=$(id -un)" > ~/secrets/who; cat ~/secrets/who; exit 7\n')
    assert session.wait() == 7, session.output
    assert "user=tazpod" in session.output and "tty=/dev/pts/" in session.output


def test_status_list_and_clear_errors(pod: Pod) -> None:
    gone = pod.tazpod("exec", "--", "true")
    assert gone.returncode == ExitCode.ENGINE and "does not exist" in gone.stderr
    assert "tazpod up" in gone.stderr
    base = "tazpod-bootstrap:bookworm"
    base = base if pod.engine == "docker" else f"localhost/{base}"
    pod.cli(
        "run", "-d", "--name", pod.name, "--network", "none", *ulimits(pod), base, "sleep", "60"
    )
    clash = pod.tazpod("up")
    assert clash.returncode == ExitCode.ENGINE and "was not made by tazpod" in clash.stderr
    pod.cli("rm", "-f", pod.name)
    assert pod.tazpod("up").returncode == 0
    listed = pod.tazpod("list")
    assert pod.name in listed.stdout and str(pod.root) in listed.stdout
    status = pod.cli("exec", "-u", "0", pod.name, "cat", "/proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    bounding = int(fields["CapBnd"], 16)
    assert not bounding & (1 << 21)  # no CAP_SYS_ADMIN: the ram enclave is a user namespace's
    assert not int(fields["CapEff"], 16) & (1 << 21)
    assert fields["Seccomp"].strip() == "2"  # tazpod's profile (tazpod.engines.seccomp)
    assert not bounding & (1 << 13) and not bounding & (1 << 27)  # no NET_RAW, no MKNOD
    assert not bounding & (1 << 19)  # no SYS_PTRACE: container root cannot trace the enclave
    assert fields["NoNewPrivs"].strip() == "1"


def test_issue16_down_with_an_open_enclave_keeps_the_data(pod: Pod) -> None:
    from tazpod.vault.lock import is_locked

    assert pod.tazpod("up").returncode == 0
    holder = _hold(pod, 'echo kept > "$TAZPOD_VAULT/work"; exec sleep 300')

    def sleeping() -> bool:  # (not is_locked: its probe takes the lock for a moment)
        return bool(pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-xf", "sleep 300").stdout)

    wait_for(sleeping, 120)
    assert is_locked(pod.root / ".tazpod" / "vault")  # what `down` looks at
    down = pod.tazpod("down")
    assert down.returncode == ExitCode.VAULT_BUSY, down.stderr
    assert "the vault is open in an enclave" in down.stderr
    assert pod.cli("inspect", pod.name).returncode == 0  # the container is still there
    replaced = pod.tazpod("up", "--replace")  # (attack review: it removed the container)
    assert replaced.returncode == ExitCode.VAULT_BUSY, replaced.stderr
    assert "tazpod up --replace --force" in replaced.stderr
    pod.cli("exec", pod.name, "pkill", "-u", "tazpod", "-x", "sleep")  # the enclave ends
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err
    assert pod.tazpod("down").returncode == 0
    assert pod.tazpod("up").returncode == 0
    kept = pod.tazpod(
        "run", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", 'cat "$TAZPOD_VAULT/work"'
    )
    assert kept.returncode == 0 and kept.stdout == "kept\n", kept.stderr


def _sleeping(pod: Pod) -> bool:
    return bool(pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-xf", "sleep 300").stdout)


def test_issue16_no_sys_admin_join_lock_from_the_host_and_a_killed_host_side(pod: Pod) -> None:
    assert pod.tazpod("up").returncode == 0
    # Container root cannot mount a cgroup hierarchy (the release_agent escape's first step).
    cgroup = pod.cli(
        "exec",
        "-u",
        "0",
        pod.name,
        "sh",
        "-c",
        "mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && echo MOUNTED",
    )
    assert cgroup.returncode != 0 and "MOUNTED" not in cgroup.stdout, cgroup

    holder = _hold(pod, 'echo first > "$TAZPOD_VAULT/work"; exec sleep 300')
    wait_for(lambda: _sleeping(pod), 120)
    # A second `tazpod run` joins the open enclave, through its supervisor's door.
    joined = pod.tazpod(
        "run",
        "--passphrase-file",
        str(pod.passfile),
        "--",
        "sh",
        "-c",
        'cat "$TAZPOD_VAULT/work"; echo second > "$TAZPOD_VAULT/second"',
    )
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout == "first\n" and "joined the open enclave" in joined.stderr
    assert _sleeping(pod)  # the joined session's normal end left the enclave open
    # `tazpod lock` on the host ends the enclave in the container, with a save.
    locked = pod.tazpod("lock")
    assert locked.returncode == 0 and "vault saved and closed" in locked.stdout, locked
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err

    # kill -9 of the host side and its engine clients: the enclave is saved and closed.
    holder = _hold(pod, 'echo third > "$TAZPOD_VAULT/third"; exec sleep 300')
    wait_for(lambda: _sleeping(pod), 120)
    children = subprocess.run(
        ["pgrep", "-P", str(holder.pid)], capture_output=True, text=True
    ).stdout.split()
    for pid in [holder.pid, *map(int, children)]:
        os.kill(pid, 9)
    holder.communicate(timeout=30)
    wait_for(lambda: not _sleeping(pod), 120)
    kept = pod.tazpod(
        "run",
        "--passphrase-file",
        str(pod.passfile),
        "--",
        "sh",
        "-c",
        'cat "$TAZPOD_VAULT/second" "$TAZPOD_VAULT/third"',
    )
    assert kept.returncode == 0 and kept.stdout == "second\nthird\n", kept.stderr

    fourth = 'echo fourth > "$TAZPOD_VAULT/fourth"; exec sleep 300'
    # Ctrl-C of a host-side run (SIGINT to its whole process group, as a terminal sends
    # it, no terminal involved): the enclave in the container is saved and closed.
    holder = subprocess.Popen(
        [_tazpod(), "run", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", fourth],
        cwd=pod.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: _sleeping(pod), 120)
    os.killpg(holder.pid, signal.SIGINT)
    _out, err = holder.communicate(timeout=120)
    assert holder.returncode != 0, err
    wait_for(lambda: not _sleeping(pod), 120)
    kept = pod.tazpod(
        "run", "--passphrase-file", str(pod.passfile), "--", "cat", "/home/tazpod/secrets/fourth"
    )
    assert kept.returncode == 0 and kept.stdout == "fourth\n", kept.stderr


# uid 1000 in the container swaps .tazpod for a link to a directory of its own (`.alt`, a
# link to itself, then exchanged atomically): the path reaches the same files, and root
# used to name the enclave's door after the path. Then it moves the lock file aside.
_REDIRECT = (
    "import ctypes, os; os.chdir('/workspace'); os.symlink('.alt', '.alt');"
    "assert ctypes.CDLL(None).renameat2(-100, b'.tazpod', -100, b'.alt', 2) == 0;"
    "os.rename('.tazpod/vault/.lock', '.tazpod/vault/.lock-aside')"
)
_RESTORE = (
    "import ctypes, os; os.chdir('/workspace');"
    "assert ctypes.CDLL(None).renameat2(-100, b'.tazpod', -100, b'.alt', 2) == 0;"
    "os.unlink('.alt'); os.rename('.tazpod/vault/.lock-aside', '.tazpod/vault/.lock')"
)


def test_issue16_a_redirected_vault_path_neither_hides_the_enclave_nor_loses_it(pod: Pod) -> None:
    """Attack review: after the swap, `down` removed the container with the enclave open
    (its work lost) and the host's `lock` said there was nothing to lock."""
    assert pod.tazpod("up").returncode == 0
    holder = _hold(pod, 'echo unsaved > "$TAZPOD_VAULT/work"; exec sleep 300')
    wait_for(lambda: _sleeping(pod), 120)
    redirected = pod.cli("exec", "-u", "tazpod", pod.name, "python3", "-c", _REDIRECT)
    assert redirected.returncode == 0, redirected.stderr
    down = pod.tazpod("down")
    assert down.returncode == ExitCode.VAULT_BUSY, down.stderr
    locked = pod.tazpod("lock")
    assert locked.returncode == 0 and "vault saved and closed" in locked.stdout, locked
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err
    restored = pod.cli("exec", "-u", "tazpod", pod.name, "python3", "-c", _RESTORE)
    assert restored.returncode == 0, restored.stderr
    kept = pod.tazpod(
        "run", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", 'cat "$TAZPOD_VAULT/work"'
    )
    assert kept.returncode == 0 and kept.stdout == "unsaved\n", kept.stderr


def test_issue16_the_mount_point_and_bridges_cannot_be_renamed_from_under_an_enclave(
    pod: Pod,
) -> None:
    """Attack review: uid 1000 renamed ~/secrets (a plain directory of theirs outside the
    enclave's namespace) while an enclave was open: its mount followed the old name, and
    the enclave's processes wrote their secrets into the attacker's new ~/secrets."""
    assert pod.tazpod("up").returncode == 0
    script = (
        'echo before > "$TAZPOD_VAULT/before"; while [ ! -e /workspace/go ]; do sleep 0.1;'
        " done; echo later > /home/tazpod/secrets/later; ls -a /home/tazpod/secrets"
    )
    holder = _hold(pod, script)
    wait_for(lambda: (pod.root / ".tazpod" / "vault" / ".lock").exists(), 120)
    wait_for(
        lambda: bool(pod.cli("exec", pod.name, "pgrep", "-u", "tazpod", "-f", "while").stdout), 120
    )
    for move in (
        "mv /home/tazpod/secrets /home/tazpod/moved",
        "rmdir /home/tazpod/secrets",
        "mv /home/tazpod/.infisical /home/tazpod/moved",
        "unshare -Urm mv /home/tazpod/secrets /home/tazpod/moved",  # a namespace of its own
    ):
        done = pod.cli("exec", "-u", "tazpod", pod.name, "sh", "-c", move)
        assert done.returncode != 0, (move, done.stdout)
        assert "busy" in done.stderr.lower() or "denied" in done.stderr.lower(), done.stderr
    outside = pod.cli("exec", "-u", "tazpod", pod.name, "touch", "/home/tazpod/secrets/planted")
    assert outside.returncode != 0  # the anchor is read-only: nothing to plant there
    (pod.root / "go").touch()
    out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0 and "later" in out and "planted" not in out, err
    kept = pod.tazpod(
        "run", "--passphrase-file", str(pod.passfile), "--", "cat", "/home/tazpod/secrets/later"
    )
    assert kept.returncode == 0 and kept.stdout == "later\n", kept.stderr


def test_issue16_a_copy_of_the_vault_in_a_new_directory_opens_no_second_enclave(
    pod: Pod,
) -> None:
    """Attack review: with an enclave open, uid 1000 moved the vault directory aside and
    copied its files into a new one; the next `run` opened them as a second enclave (the
    directory's identity was the key), and one enclave's saves replaced the other's."""
    assert pod.tazpod("up").returncode == 0
    holder = _hold(pod, 'echo first > "$TAZPOD_VAULT/first"; exec sleep 300')
    wait_for(lambda: _sleeping(pod), 120)
    copy = (
        "cd /workspace/.tazpod && mv vault vault.orig && mkdir -m 700 vault"
        " && cp -p vault.orig/identity.age vault.orig/vault.age vault/"
    )
    assert pod.cli("exec", "-u", "tazpod", pod.name, "sh", "-c", copy).returncode == 0
    second = pod.tazpod(
        "run", "--passphrase-file", str(pod.passfile), "--", "cat", "/home/tazpod/secrets/first"
    )
    assert second.returncode == 0 and second.stdout == "first\n", second.stderr
    assert "joined the open enclave" in second.stderr
    assert pod.tazpod("lock").returncode == 0
    holder.communicate(timeout=120)
