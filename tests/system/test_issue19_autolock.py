"""Issue 19, part 4: an open enclave locks itself when idle (`vault.idle_lock`) or open too
long (`vault.max_open`): its terminals are warned first, then it saves and ends."""

from __future__ import annotations

import re
import time

from .conftest import PASSPHRASE, Project, wait_for
from .ptyutil import PtySession


def _limits(project: Project, idle_lock: str | None, max_open: str | None) -> None:
    """Set the auto-lock keys the template shows commented out (and approve them)."""
    text = (project.root / ".tazpod" / "config.yaml").read_text()
    for key, value in (("idle_lock", idle_lock), ("max_open", max_open)):
        if value is not None:
            commented = next(line for line in text.splitlines() if line.startswith(f"  # {key}:"))
            project.set_config(commented + "\n", f"  {key}: {value}\n")


def _unlock(project: Project) -> PtySession:
    assert project.run("true").returncode == 0  # the vault exists
    session = PtySession([str(project.binary), "unlock"], project.env(), project.root)
    session.expect("vault passphrase: ")
    session.send(PASSPHRASE + "\n")
    session.expect(r"\(enclave\)")
    return session


def test_issue19_an_idle_shell_is_warned_then_saved_and_closed(project: Project) -> None:
    _limits(project, idle_lock="6s", max_open=None)
    session = _unlock(project)
    session.send(f'echo kept > "$TAZPOD_VAULT/note"; {project.binary} vault status\n')
    session.expect(r"idle lock:   6s: locks at \d\d:\d\d:\d\d \(in \d+s\) unless there is input")
    session.expect(r"max open:    off \(vault.max_open\)")
    # Nothing typed, nothing running: the terminal is told, then the enclave ends.
    session.expect(
        r"tazpod: this enclave has been idle for \d+s; it saves the vault and closes"
        r" in 2s unless there is input \(vault.idle_lock: 6s\)",
        timeout=90,
    )
    assert session.wait(timeout=120) == 0, session.output
    assert "auto-lock: idle for 6s; saving and closing the enclave" in session.output
    assert "vault saved" in session.output
    assert project.run("cat", f"{project.secrets}/note").stdout == "kept\n"


def test_issue19_typing_keeps_the_enclave_open(project: Project) -> None:
    # Terminals note input to 8 s (Linux), so the idle value here is well above that.
    _limits(project, idle_lock="20s", max_open=None)
    session = _unlock(project)
    started = time.monotonic()
    while time.monotonic() - started < 35:  # typing, not a command: input alone keeps it open
        session.send("x")
        session.expect("x", timeout=30)
        time.sleep(1)  # the typist's pace
    assert "auto-lock" not in session.output and "has been idle" not in session.output
    session.send("\x15")  # Ctrl-U: the typed line is dropped, nothing runs
    session.expect(r"has been idle for \d+s; it saves the vault", timeout=90)
    assert session.wait(timeout=120) == 0, session.output
    assert "auto-lock: idle for 20s" in session.output


def test_issue19_a_busy_process_keeps_it_open_past_the_idle_value(project: Project) -> None:
    _limits(project, idle_lock="6s", max_open=None)
    busy_done = project.root / "busy-done"
    # CPU only, no new process (bash's own test, arithmetic and clock): for 3 idle values.
    busy = f'end=$((SECONDS + 18)); while [ "$SECONDS" -lt "$end" ]; do :; done; touch {busy_done}'
    supervisor = project.start("bash", "-c", f'echo busy > "$TAZPOD_VAULT/b"; {busy}; sleep 300')
    # An idle lock would end the enclave, and the loop with it, before the loop's end.
    wait_for(lambda: busy_done.exists() or supervisor.poll() is not None, timeout=120)
    assert busy_done.exists() and supervisor.poll() is None, supervisor.communicate()[1]
    _out, err = supervisor.communicate(timeout=120)  # then the sleep is idle: it locks
    assert supervisor.returncode == 0, err
    assert "auto-lock: idle for 6s; saving and closing the enclave" in err
    assert "vault saved" in err
    assert project.run("cat", f"{project.secrets}/b").stdout == "busy\n"


def test_issue19_max_open_fires_even_while_busy(project: Project) -> None:
    _limits(project, idle_lock="1h", max_open="8s")
    assert project.run("true").returncode == 0  # the vault exists
    forever = 'echo max > "$TAZPOD_VAULT/m"; while :; do :; done'
    run = ["run", "--passphrase-file", str(project.passfile), "--", "sh", "-c", forever]
    session = PtySession([str(project.binary), *run], project.env(), project.root)
    session.expect(
        r"tazpod: this enclave has been open for \d+s; it saves the vault and"
        r" closes in 2s \(vault.max_open: 8s\)",
        timeout=90,
    )
    assert session.wait(timeout=120) == 0, session.output
    assert "auto-lock: open for 8s; saving and closing the enclave" in session.output
    assert "vault saved" in session.output
    assert project.run("cat", f"{project.secrets}/m").stdout == "max\n"


def test_issue19_vault_status_shows_both_limits(project: Project) -> None:
    _limits(project, idle_lock="1h30m", max_open="8h")
    done = project.run(str(project.binary), "vault", "status")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "idle lock:   1h30m: locks at " in out and "unless there is input" in out
    assert re.search(r"max open:    8h: locks at \d\d:\d\d:\d\d \(in (8h|7h59m\d*s?)\)\n", out)
    outside = project.tazpod("vault", "status")
    assert "idle lock:   1h30m (vault.idle_lock)" in outside.stdout
    assert "max open:    8h (vault.max_open)" in outside.stdout
