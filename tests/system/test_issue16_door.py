"""Issue 16: joins through the supervisor's door, never through a pid; no owner uid to see.

(a) The same uid holds the vault's lock and runs a fake "enclave" (the join hijack of
the issue): the victim's `tazpod run` is refused as busy and joins nothing. (b) A
supervisor killed with SIGKILL leaves a door nobody answers: the next `run` opens the
vault itself. (c) A watcher of another uid reading every /proc/<pid>/status while
enclaves open sees no uid but root's and the user's. (d) `sudo tazpod lock` from
outside closes the enclave with a save.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tazpod.enclave import admission
from tazpod.errors import ExitCode
from tazpod.project import paths

from .conftest import Project, User, as_user, wait_for

pytestmark = pytest.mark.system


def test_a_lock_held_by_a_fake_enclave_is_never_joined(project: Project) -> None:
    assert project.run("true").returncode == 0  # the vault exists
    lock_file = project.vault_dir / ".lock"
    holder_code = (
        "import fcntl, os, sys, time;"
        f"fd = os.open({str(lock_file)!r}, os.O_RDWR);"
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    uid, gid = project.user.uid, project.user.gid
    attacker = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--",
            sys.executable,
            "-c",
            holder_code,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert attacker.stdout is not None and attacker.stdout.readline() == "held\n"
        started = time.monotonic()
        victim = project.run("sh", "-c", "echo victim-wrote > $TAZPOD_VAULT/x", timeout=120)
        assert victim.returncode == ExitCode.VAULT_BUSY, victim.stderr
        assert "no open enclave answers" in victim.stderr and "joined" not in victim.stderr
        assert time.monotonic() - started < 60
    finally:
        attacker.kill()
        attacker.wait()


def test_a_killed_supervisors_door_is_replaced_not_answered(project: Project) -> None:
    ready = project.root / "ready"
    holder = project.start("sh", "-c", f"touch {ready}; exec sleep 60")
    wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=60)
    key = paths.vault_key(project.vault_dir)
    assert key is not None
    door = admission.door_path(key)
    assert door.exists() and (door.stat().st_mode & 0o777) == 0o600
    os.kill(holder.pid, signal.SIGKILL)  # the supervisor: it cannot remove its door
    holder.wait()
    subprocess.run(["pkill", "-KILL", "-u", str(project.user.uid), "-x", "sleep"])
    wait_for(
        lambda: (
            not subprocess.run(
                ["pgrep", "-u", str(project.user.uid), "-x", "sleep"], capture_output=True
            ).stdout
        ),
        timeout=20,
    )
    assert door.exists()
    probe = socket.socket(socket.AF_UNIX)
    with pytest.raises(ConnectionRefusedError):
        probe.connect(str(door))
    probe.close()
    done = project.run("sh", "-c", "echo fresh")
    assert done.returncode == 0 and done.stdout == "fresh\n", done.stderr
    assert "joined" not in done.stderr and not door.exists()


def _uids_in_proc() -> set[int]:
    seen: set[int] = set()
    for pid in os.listdir("/proc"):
        try:
            text = Path(f"/proc/{pid}/status").read_text() if pid.isdigit() else ""
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Uid:"):
                seen.update(int(u) for u in line.split()[1:])
    return seen


def test_no_uid_but_roots_and_the_users_shows_while_enclaves_open(
    project: Project, other_user: User
) -> None:
    watcher_code = (
        "import os, sys, time\n"
        "seen = set(); end = time.monotonic() + float(sys.argv[1])\n"
        "while time.monotonic() < end:\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit():\n"
        "            try:\n"
        "                text = open(f'/proc/{pid}/status').read()\n"
        "            except OSError:\n"
        "                continue\n"
        "            for line in text.splitlines():\n"
        "                if line.startswith('Uid:'):\n"
        "                    seen.update(int(u) for u in line.split()[1:])\n"
        "print(' '.join(map(str, sorted(seen))))\n"
    )
    before = {p.pw_uid for p in __import__("pwd").getpwall()}
    before |= _uids_in_proc()  # what runs already (a rootless container's subordinate uids)
    watcher = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={other_user.uid}",
            f"--regid={other_user.gid}",
            "--clear-groups",
            "--",
            sys.executable,
            "-c",
            watcher_code,
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for _ in range(5):
        assert project.run("true").returncode == 0
    out, _err = watcher.communicate(timeout=60)
    seen = {int(uid) for uid in out.split()}
    strangers = seen - before - {65534}
    assert not strangers, f"uids no account has showed in /proc: {sorted(strangers)}"


def test_sudo_lock_from_outside_saves_and_closes(project: Project) -> None:
    ready = project.root / "ready"
    holder = project.start(
        "sh", "-c", f'echo kept > "$TAZPOD_VAULT/kept"; touch {ready}; exec sleep 60'
    )
    wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=60)
    locked = project.tazpod("lock", timeout=120)
    assert locked.returncode == 0 and "vault saved and closed" in locked.stdout, locked.stderr
    _out, err = holder.communicate(timeout=60)
    assert "vault saved" in err
    again = project.tazpod("lock")
    assert again.returncode == 0 and "nothing to lock" in again.stdout
    done = project.run("cat", str(project.secrets / "kept"))
    assert done.stdout == "kept\n", done.stderr


def test_a_renamed_lock_file_never_opens_a_second_enclave(project: Project) -> None:
    """Attack review: the same uid renames .tazpod/vault/.lock while an enclave is open;
    the next `run` gets the (new) lock, yet joins the open enclave instead of opening the
    vault a second time (whose saves would overwrite the first's)."""
    ready = project.root / "ready"
    holder = project.start(
        "sh", "-c", f'echo first > "$TAZPOD_VAULT/first"; touch {ready}; exec sleep 60'
    )
    wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=60)
    moved = as_user(
        project.user,
        ["mv", str(project.vault_dir / ".lock"), str(project.vault_dir / ".lock.old")],
    )
    assert moved.returncode == 0, moved.stderr
    second = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/first"; echo b > "$TAZPOD_VAULT/b"')
    assert second.returncode == 0 and second.stdout == "first\n", second.stderr
    assert "joined the open enclave" in second.stderr
    locked = project.tazpod("lock", timeout=120)
    assert locked.returncode == 0, locked.stderr
    holder.communicate(timeout=120)
    kept = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/first" "$TAZPOD_VAULT/b"')
    assert kept.stdout == "first\nb\n", kept.stderr


def test_a_lock_renamed_while_the_first_opener_waits_for_its_passphrase_opens_no_second(
    project: Project,
) -> None:
    """Code review: before the door is open (the first opener still asks for its
    passphrase), the same uid renames `.lock`; a second `run` takes the new one. Root's
    own opening lock makes it wait and join the first enclave once that one is open."""
    from .conftest import PASSPHRASE
    from .ptyutil import PtySession

    assert project.run("true").returncode == 0  # the vault exists
    ready = project.root / "ready"
    hold = f'echo first > "$TAZPOD_VAULT/first"; touch {ready}; exec sleep 60'
    first = PtySession(
        [str(project.binary), "run", "--", "sh", "-c", hold], project.env(), project.root
    )
    first.expect("vault passphrase: ")  # it holds the locks and waits
    moved = as_user(
        project.user,
        ["mv", str(project.vault_dir / ".lock"), str(project.vault_dir / ".lock.old")],
    )
    assert moved.returncode == 0, moved.stderr
    wait_first = 'for i in $(seq 300); do [ -e "$TAZPOD_VAULT/first" ] && break; sleep 0.1; done'
    second = project.start(
        "sh", "-c", f'{wait_first}; cat "$TAZPOD_VAULT/first"; echo b > "$TAZPOD_VAULT/b"'
    )
    first.send(PASSPHRASE + "\n")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0 and out == "first\n", err
    assert "joined the open enclave" in err
    wait_for(ready.exists, timeout=30)
    locked = project.tazpod("lock", timeout=120)
    assert locked.returncode == 0, locked.stderr
    assert first.wait(timeout=120) == 0, first.output
    kept = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/first" "$TAZPOD_VAULT/b"')
    assert kept.stdout == "first\nb\n", kept.stderr
