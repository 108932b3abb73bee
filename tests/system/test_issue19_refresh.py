"""Issue 19 (5): a secret set in one enclave shell reaches another at its next prompt.

Two interactive shells of one enclave on terminals (the second joins the first). Shell
B runs under strace, which records every process it starts (fork, clone, execve) from
the moment it is attached: a run of prompts with nothing changed must start none, and
the prompt after a `tazpod secrets set` in shell A must start `tazpod env` (which also
proves the trace sees what B's prompts start). B's new variable is compared by its hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

from .conftest import PASSPHRASE, Project, wait_for
from .ptyutil import PtySession

PROMPT = r"\(enclave\) "
QUIET_PROMPTS = 20
AS_FILE, AS_ENV = "TZ_PROBE", "TZ_PROBE_ENV"  # delivered as a file (the default), as a value
FORK = re.compile(r"^(?:clone3?|v?fork)\(.*=\s+(\d+)$", re.M)


def _shell(project: Project, joined: bool) -> PtySession:
    session = PtySession([str(project.binary), "unlock"], project.env(), project.root)
    session.expect("vault passphrase: ")
    session.send(PASSPHRASE + "\n")
    if joined:
        session.expect("joined the open enclave")
    session.expect(PROMPT)
    return session


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _shell_pid(root: int, uid: int) -> int:
    """The user's bash below ``root`` (the `tazpod unlock` a PtySession started)."""
    tree, todo, found = _children(), [root], []
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            if (
                Path(f"/proc/{pid}/comm").read_text().strip() == "bash"
                and os.stat(f"/proc/{pid}").st_uid == uid
            ):
                found.append(pid)
        except OSError:
            pass
    assert len(found) == 1, found
    return found[0]


def _forks(log: Path, pid: int) -> list[int]:
    """The processes ``pid`` started while traced, in order (from its own trace file)."""
    return [int(child) for child in FORK.findall(Path(f"{log}.{pid}").read_text())]


def _execs(log: Path, pid: int) -> str:
    """What ``pid`` and the processes it started ran (their execve lines)."""
    text = Path(f"{log}.{pid}").read_text()
    lines = [line for line in text.splitlines() if line.startswith("execve(")]
    return "\n".join([*lines, *(_execs(log, child) for child in _forks(log, pid))])


def _tracer_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^TracerPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def _value_file(project: Project, name: str, value: str) -> Path:
    path = project.root / f"{name}.value"
    path.write_text(value)
    os.chown(path, project.user.uid, project.user.gid)
    path.chmod(0o600)
    return path


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_issue19_a_secret_set_in_one_shell_reaches_the_other_at_its_next_prompt(
    project: Project, tmp_path: Path
) -> None:
    project.set_secrets(f"config: {{}}\ndelivery:\n  {AS_ENV}: env\n")
    assert project.run("true").returncode == 0  # the vault exists
    values = {
        name: f'{name} {secrets.token_hex(8)} it\'s "$(id)" `id`' for name in (AS_FILE, AS_ENV)
    }
    sources = {name: _value_file(project, name, value) for name, value in values.items()}
    log = tmp_path / "strace"  # strace -ff: strace.PID, one file per process

    a = _shell(project, joined=False)
    b = _shell(project, joined=True)
    b.send(f'echo "before=[${{{AS_FILE}_FILE-}}${{{AS_ENV}-}}]"\n')
    b.expect(r"before=\[\]")
    b.expect(PROMPT)
    shell = _shell_pid(b.pid, project.user.uid)
    tracer = subprocess.Popen(
        [
            "strace",
            "-ff",  # one file per process: strace.PID
            "-qq",
            "-e",
            "trace=execve,clone,clone3,fork,vfork",
            "-e",
            "signal=none",
            "-o",
            str(log),
            "-p",
            str(shell),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: _tracer_of(shell) == tracer.pid or tracer.poll() is not None)
        assert tracer.poll() is None, tracer.stderr.read() if tracer.stderr else ""
        b.send("/bin/true tazpod-quiet-begin\n")
        b.expect(PROMPT)
        for _ in range(QUIET_PROMPTS):
            b.send("\n")
            b.expect(PROMPT)
        b.send("/bin/true tazpod-quiet-end\n")
        b.expect(PROMPT)

        for name, source in sources.items():
            a.send(f"tazpod secrets set {name} < {source}\n")
            a.expect(f"stored {name} in the vault")
            a.expect(PROMPT)
        b.send("\n")  # the user does nothing but press Enter
        b.expect(PROMPT)
        b.send(f'sha256sum < "${AS_FILE}_FILE"; printf "%s" "${AS_ENV}" | sha256sum\n')
        b.expect(_sha(values[AS_FILE]))
        b.expect(_sha(values[AS_ENV]))
        b.expect(PROMPT)
    finally:
        tracer.send_signal(signal.SIGINT)  # strace detaches and leaves the shell running
        tracer.wait(timeout=60)
    forks = _forks(log, shell)  # in order: the shell's own trace, one process per file
    assert len(forks) >= 3, forks
    assert "tazpod-quiet-begin" in _execs(log, forks[0])
    # The very next process the shell started is the end marker: the prompts between them
    # started none (no `tazpod env`, no python, nothing).
    assert "tazpod-quiet-end" in _execs(log, forks[1])
    refresh = "".join(_execs(log, pid) for pid in forks[2:])
    assert re.search(r'execve\("[^"]*tazpod", \["[^"]*tazpod", "env"\]', refresh), refresh
    for value in values.values():
        assert all(value not in path.read_text() for path in tmp_path.glob("strace.*"))
        assert value not in b.output and value not in a.output

    b.send("exit\n")
    assert b.wait() == 0, b.output
    a.send("exit\n")
    assert a.wait() == 0, a.output


def test_issue19_a_shell_with_a_grant_is_not_refreshed(project: Project) -> None:
    """`tazpod env` in a grant's view would see only the grant: such a shell has no hook,
    and its granted value file stays as it was given."""
    pf = str(project.passfile)
    done = project.tazpod("secrets", "set", AS_FILE, "--passphrase-file", pf, input="granted value")
    assert done.returncode == 0, done.stderr
    script = (
        'declare -F __tazpod_refresh || echo "no hook";'
        f' echo "gen=[${{TAZPOD_GENERATION-unset}}]"; sha256sum < "${AS_FILE}_FILE"\n'
        "\n"  # a second prompt: the view's value file is still there
        f'sha256sum < "${AS_FILE}_FILE"; exit 3\n'
    )
    done = project.tazpod("unlock", "--only", AS_FILE, "--passphrase-file", pf, input=script)
    assert done.returncode == 3, done.stderr
    assert "no hook" in done.stdout and "gen=[unset]" in done.stdout, done.stdout
    assert done.stdout.count(_sha("granted value")) == 2, done.stdout + done.stderr
