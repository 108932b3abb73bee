"""Lock, join, save on demand and on signals, cleanup: nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tazpod.errors import ExitCode

from .conftest import WAIT_FOR_FILE, Project, running, wait_for


def _mounted_anywhere(path: Path) -> list[str]:
    """Every mount of ``path`` in any process's mount namespace."""
    hits = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/mountinfo").read_text()
        except OSError:
            continue
        hits += [f"{entry}: {line}" for line in text.splitlines() if f" {path} " in line]
    return hits


def _user_processes(uid: int) -> list[int]:
    """Living processes of ``uid`` (a zombie that init has yet to reap is not one)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                if os.stat(f"/proc/{entry}").st_uid == uid and stat.rsplit(")", 1)[1][1] != "Z":
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_lock_from_inside_saves_and_leaves_nothing(project: Project) -> None:
    script = f'echo kept > "$TAZPOD_VAULT/note"; sleep 300 & {project.binary} lock; sleep 300'
    done = project.run("sh", "-c", script, timeout=60)
    assert "saving and closing the enclave" in done.stderr, done.stderr
    assert "vault saved" in done.stderr
    assert done.returncode == 0  # an enclave ended by `tazpod lock` ended as asked
    assert _mounted_anywhere(project.secrets) == []
    assert _user_processes(project.user.uid) == []
    assert project.run("cat", f"{project.secrets}/note").stdout == "kept\n"


def test_leftover_background_processes_are_ended(project: Project) -> None:
    done = project.run("sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & nohup sleep 301 & exit 3")
    assert done.returncode == 3
    assert _user_processes(project.user.uid) == []
    assert _mounted_anywhere(project.secrets) == []


def test_lock_and_save_outside_an_enclave_explain_themselves(project: Project) -> None:
    done = project.tazpod("vault", "save")
    assert done.returncode == ExitCode.USAGE
    assert "not inside an enclave" in done.stderr and "tazpod unlock" in done.stderr
    # `lock` outside, as root, asks the enclave's door: with none open there is nothing to do.
    done = project.tazpod("lock")
    assert done.returncode == 0 and "nothing to lock" in done.stdout, done.stderr


def test_vault_save_and_status_inside(project: Project) -> None:
    script = (
        f'echo one > "$TAZPOD_VAULT/a"; {project.binary} vault save; '
        f"cp {project.vault_dir}/vault.age /tmp/tazpod-after-save.age 2>/dev/null; "
        f"{project.binary} vault status"
    )
    done = project.run("sh", "-c", script)
    assert done.returncode == 0, done.stderr
    assert "saved (" in done.stderr
    assert f"open at {project.secrets}, 1 session(s)" in done.stdout
    assert "last save:" in done.stdout and "not yet" not in done.stdout.split("last save:")[1]


def test_vault_status_outside(project: Project) -> None:
    project.run("true")
    done = project.tazpod("vault", "status")
    assert done.returncode == 0
    assert "backend:     ram" in done.stdout and "state:       closed" in done.stdout
    assert "encrypted" in done.stdout


def test_second_session_joins_the_same_enclave(project: Project) -> None:
    ready = project.root / "ready"
    first = project.start(
        "sh",
        "-c",
        f'echo from-first > "$TAZPOD_VAULT/f"; touch {ready}; {WAIT_FOR_FILE % "$TAZPOD_VAULT/g"};'
        ' cat "$TAZPOD_VAULT/g"',
    )
    wait_for(ready.exists)
    second = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/f"; echo from-second > "$TAZPOD_VAULT/g"')
    assert second.returncode == 0, second.stderr
    assert "joined the open enclave" in second.stderr
    assert second.stdout == "from-first\n"
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out == "from-second\n"  # one tmpfs, one vault: never mounted twice
    assert project.run("cat", f"{project.secrets}/g").stdout == "from-second\n"


def test_joining_needs_the_passphrase(project: Project) -> None:
    ready = project.root / "ready"
    release = project.root / "release"
    first = project.start("sh", "-c", f"touch {ready}; {WAIT_FOR_FILE % release}")
    wait_for(ready.exists)
    project.passfile.write_text("wrong\n")
    done = project.run("true")
    assert done.returncode == ExitCode.WRONG_PASSPHRASE
    release.touch()
    assert first.wait(timeout=60) == 0


def test_sigterm_and_sighup_save_the_vault(project: Project) -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        ready = project.root / f"ready-{signum}"
        supervisor = project.start(
            "sh",
            "-c",
            f'echo sig{int(signum)} > "$TAZPOD_VAULT/s{int(signum)}"; touch {ready}; sleep 300',
        )
        wait_for(ready.exists)
        wait_for(lambda: running("sleep", "300"))  # the command runs: the signal finds it
        supervisor.send_signal(signum)
        _out, err = supervisor.communicate(timeout=60)
        assert supervisor.returncode == 128 + signum, err
        assert "vault saved" in err
    done = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/s15" "$TAZPOD_VAULT/s1"')
    assert done.stdout == "sig15\nsig1\n"
    assert _mounted_anywhere(project.secrets) == []


def test_interrupt_goes_to_the_command_and_the_vault_is_saved(project: Project) -> None:
    ready = project.root / "ready"
    supervisor = subprocess.Popen(
        [
            str(project.binary),
            "run",
            "--passphrase-file",
            str(project.passfile),
            "--",
            "sh",
            "-c",
            f'echo int > "$TAZPOD_VAULT/i"; touch {ready}; sleep 300',
        ],
        cwd=project.root,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(ready.exists)
    wait_for(lambda: running("sleep", "300"))  # the command runs: Ctrl-C reaches it
    os.killpg(supervisor.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    _out, err = supervisor.communicate(timeout=60)
    assert supervisor.returncode == 128 + signal.SIGINT, err
    assert "vault saved" in err
    assert project.run("cat", f"{project.secrets}/i").stdout == "int\n"


def test_killed_supervisor_loses_only_unsaved_changes(project: Project) -> None:
    project.run("sh", "-c", 'echo saved > "$TAZPOD_VAULT/k"')
    ready = project.root / "ready"
    supervisor = project.start(
        "sh", "-c", f'echo unsaved > "$TAZPOD_VAULT/k"; touch {ready}; exec sleep 300'
    )
    wait_for(ready.exists)
    supervisor.kill()
    supervisor.wait(timeout=30)
    # Its enclave process dies with it (parent-death signal); the vault is closed, intact.
    wait_for(lambda: not _user_processes(project.user.uid))
    done = project.run("cat", f"{project.secrets}/k")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "saved\n"


def test_issue13_lock_in_an_interactive_shell_ends_it_cleanly(project: Project) -> None:
    from .conftest import PASSPHRASE
    from .ptyutil import PtySession

    assert project.run("true").returncode == 0  # the vault exists
    session = PtySession([str(project.binary), "unlock"], project.env(), project.root)
    session.expect("vault passphrase: ")
    session.send(PASSPHRASE + "\n")
    session.expect(r"\(enclave\)")
    session.send("echo before-lock-$((2*21))\n")
    session.expect("before-lock-42")
    session.send(f"{project.binary} lock\n")
    assert session.wait() == 0, session.output
    assert "vault saved" in session.output
    assert "Terminated" not in session.output and "Killed" not in session.output
    history = project.run("cat", str(project.user.home / "secrets" / ".state" / "bash_history"))
    assert "before-lock-$((2*21))" in history.stdout  # the shell wrote it before the save
