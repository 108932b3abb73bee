"""Issue 19: secrets to exactly the process that needs them.

Grants (`run --only`, `--profile`) narrow a command's environment and its view of the
vault; the delivery modes keep values out of environments (files by default, a one-shot
FIFO); `--restart-on-change` restarts its command once per change, or signals it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import WAIT_FOR_FILE, Project, wait_for

TOKEN = "tok-4e1d9a7c2b"  # test values, each easy to find in any output
PASSWORD = "pw-8c3f50e61a"
ONCE = "once-1b6e2d9f70"
KUBE = "kube-5a0c7e3b19"
CERT = "cert-9d2b4f6a83"
NOTE = "note-2f7a1c9e64"
VALUES = (TOKEN, PASSWORD, ONCE, KUBE, CERT, NOTE)
BRIDGE = "~/.agent-memory"


@pytest.fixture
def stocked(project: Project) -> Iterator[Project]:
    """A vault with one secret of each delivery mode, two mapped files and a bridge."""
    memory = project.user.home / ".agent-memory"
    subprocess.run(["rm", "-rf", str(memory)], check=True)
    project.set_config("  bridges: []\n", f"  bridges:\n    - {BRIDGE}\n")
    project.set_secrets(
        "config: {}\n"
        "secrets:\n"
        "  - {name: KUBE, file: kubeconfig, env: KUBECONFIG}\n"
        "  - {name: DBCERT, file: dbcert, env: DB_CERT}\n"
        "delivery:\n  API_TOKEN: env\n  DOTENV_ONE: fifo\n"
        "profiles:\n  agent: [.agent-memory, API_TOKEN]\n"
    )
    dotenv = project.root / "import.env"
    dotenv.write_text(f"API_TOKEN={TOKEN}\nDB_PASSWORD={PASSWORD}\nDOTENV_ONE={ONCE}\n")
    os.chown(dotenv, project.user.uid, project.user.gid)
    pf = str(project.passfile)
    done = project.tazpod("secrets", "import", str(dotenv), "--passphrase-file", pf)
    assert done.returncode == 0, done.stderr
    dotenv.unlink()
    done = project.run(
        "sh",
        "-c",
        f'printf {KUBE} > "$TAZPOD_VAULT/kubeconfig"; printf {CERT} > "$TAZPOD_VAULT/dbcert";'
        f" printf {NOTE} > ~/.agent-memory/note.txt",
    )
    assert done.returncode == 0, done.stderr
    yield project
    subprocess.run(["rm", "-rf", str(memory)], check=True)


def _granted(project: Project, *options: str, script: str) -> subprocess.CompletedProcess[str]:
    pf = str(project.passfile)
    return project.tazpod("run", *options, "--passphrase-file", pf, "--", "sh", "-c", script)


LOOK = (
    'env; echo "--"; ls -A "$TAZPOD_VAULT"; echo "--"; ls -A ~/.agent-memory; echo "--";'
    ' for f in "$TAZPOD_VAULT"/* "$TAZPOD_VAULT"/.[!.]* ~/.agent-memory/*; do'
    '   [ -f "$f" ] && cat "$f"; done 2>/dev/null; echo "--";'
    # the enclave's other processes and its supervisor, through /proc: refused
    ' for p in /proc/[0-9]*; do cat "$p/root$TAZPOD_VAULT/dbcert" "$p/environ"; done'
    " 2>/dev/null | tr '\\0' '\\n'; echo '--';"
    # a namespace of its own cannot take the view's tmpfs off to look under it
    ' unshare -Urm sh -c "umount -l $TAZPOD_VAULT; cat $TAZPOD_VAULT/dbcert" 2>&1; true'
)


def test_only_gives_the_command_what_it_names_and_nothing_else(stocked: Project) -> None:
    project = stocked
    done = _granted(project, "--only", "KUBECONFIG", script=LOOK)
    assert done.returncode == 0, done.stderr
    assert "granted to this command only: KUBECONFIG" in done.stderr
    env, listing, memory, contents, proc, escape = done.stdout.split("--\n")
    assert f"KUBECONFIG={project.secrets}/kubeconfig" in env.splitlines()
    assert sorted(listing.split()) == [".tazpod", "kubeconfig"]
    assert memory.strip() == ""  # the bridge not granted: the home's own empty directory
    assert KUBE in contents
    everything = env + listing + memory + contents + proc + escape
    for value in (TOKEN, PASSWORD, ONCE, CERT, NOTE):
        assert value not in everything, value
    for name in ("API_TOKEN", "DB_PASSWORD_FILE", "DB_CERT", "TAZPOD_ENV_FIFO"):
        assert f"{name}=" not in env

    done = _granted(project, "--profile", "agent", script=LOOK)
    assert done.returncode == 0, done.stderr
    env, listing, memory, contents, proc, escape = done.stdout.split("--\n")
    assert f"API_TOKEN={TOKEN}" in env.splitlines()
    assert memory.split() == ["note.txt"] and NOTE in contents
    assert sorted(listing.split()) == [".tazpod"]
    for value in (PASSWORD, ONCE, KUBE, CERT):
        assert value not in done.stdout, value

    # Granted files and bridges are read-only unless granted `:rw` (what a grant writes
    # there, the whole enclave reads later), and `:rw` writes are the vault's (and saved)
    write = 'echo x >> "$KUBECONFIG" || echo ro-file; echo x > ~/.agent-memory/new || echo ro-dir'
    done = _granted(project, "--only", "KUBECONFIG,.agent-memory", script=write)
    assert "ro-file" in done.stdout and "ro-dir" in done.stdout, done.stderr
    done = _granted(project, "--only", ".agent-memory:rw", script="echo kept > ~/.agent-memory/new")
    assert done.returncode == 0, done.stderr
    done = project.run("sh", "-c", 'cat ~/.agent-memory/new "$TAZPOD_VAULT/kubeconfig"')
    assert done.stdout == f"kept\n{KUBE}", done.stderr

    # The places where the user's other processes keep their sockets (tmux's, an IDE's):
    # the grant's own, empty
    marker = Path("/tmp/tmux-grant-marker")
    marker.mkdir(exist_ok=True)
    try:
        done = _granted(project, "--only", "KUBECONFIG", script="ls -A /tmp /var/tmp /dev/shm")
        assert done.returncode == 0 and "tmux-grant-marker" not in done.stdout, done.stdout
    finally:
        marker.rmdir()

    done = _granted(project, "--only", "KUBECONFIG,NOPE", script="echo ran")
    assert done.returncode != 0 and "ran" not in done.stdout
    assert "nothing in the vault is named 'NOPE'" in done.stderr
    assert "API_TOKEN" in done.stderr  # what there is, by name
    done = _granted(project, "--profile", "nobody", script="echo ran")
    assert done.returncode != 0 and "no profile 'nobody'" in done.stderr


def test_an_interactive_grant_keeps_its_own_shell_files(stocked: Project) -> None:
    """`unlock --only`: the shell starts from tazpod's files, in its view."""
    project = stocked
    pf = str(project.passfile)
    done = project.tazpod(
        "unlock",
        "--only",
        "DB_PASSWORD",
        "--passphrase-file",
        pf,
        input='cat "$DB_PASSWORD_FILE"; echo; ls -A "$TAZPOD_VAULT/.tazpod";'
        ' eval "$(tazpod env)"; cat "$DB_PASSWORD_FILE"; echo;'
        ' echo "grant=$TAZPOD_GRANT"; exit 3\n',
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.count(PASSWORD) == 2 and "shellrc" in done.stdout  # env kept it
    assert "grant=DB_PASSWORD" in done.stdout
    for value in (TOKEN, ONCE, KUBE, CERT, NOTE):
        assert value not in done.stdout


def _environs_holding(value: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if value.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_file_delivery_and_the_fifo_keep_values_out_of_every_environment(
    stocked: Project,
) -> None:
    project = stocked
    go = project.root / "go"  # (the project is the user's: its command writes there)
    out = project.root / "out"
    script = (
        f'cat "$DB_PASSWORD_FILE" > {out}; echo >> {out}; cat "$TAZPOD_ENV_FIFO" >> {out};'
        f' cat "$TAZPOD_ENV_FIFO" >> {out} 2>&1 || echo read-once >> {out};'
        f' echo "API=$API_TOKEN PW=${{DB_PASSWORD:-none}}" >> {out}; touch {out}.done;'
        f" {WAIT_FOR_FILE % go}"
    )
    running = project.start("sh", "-c", script)
    try:
        wait_for(lambda: Path(f"{out}.done").exists(), timeout=60)
        text = out.read_text()
        assert text.splitlines()[0] == PASSWORD
        assert f"DOTENV_ONE='{ONCE}'" in text and "read-once" in text
        assert f"API={TOKEN} PW=none" in text  # env delivery was asked for by name
        # While the command runs: the file- and FIFO-delivered values are in no environ
        assert _environs_holding(PASSWORD) == [] and _environs_holding(ONCE) == []
        assert _environs_holding(TOKEN) != []
    finally:
        go.touch()
        running.communicate(timeout=60)
    assert running.returncode == 0

    done = project.run("bash", "-c", 'eval "$(tazpod env)"; env')
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert env["DB_PASSWORD_FILE"].endswith("/.tazpod/values/DB_PASSWORD")
    assert "DB_PASSWORD" not in env and "DOTENV_ONE" not in env and env["API_TOKEN"] == TOKEN


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _set_password(project: Project, value: str) -> None:
    pf = str(project.passfile)
    done = project.tazpod("secrets", "set", "DB_PASSWORD", "--passphrase-file", pf, input=value)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("mode", ["restart", "signal"])
def test_restart_on_change_restarts_once_per_change(stocked: Project, mode: str) -> None:
    project = stocked
    log = project.root / "log"
    if mode == "restart":
        options = ["--restart-on-change"]
        # (a child of its own: a restart stops the whole generation, not only the shell)
        script = f'echo "start $(cat "$DB_PASSWORD_FILE")" >> {log}; sleep 600 & wait'
    else:
        options = ["--restart-on-change", "--signal", "HUP"]
        script = (
            f'trap \'echo "hup $(cat "$DB_PASSWORD_FILE")" >> {log}\' HUP;'
            f' echo "start $(cat "$DB_PASSWORD_FILE")" >> {log};'
            " while :; do sleep 0.1; done"
        )
    pf = str(project.passfile)
    keeper = subprocess.Popen(
        [str(project.binary), "run", *options, "--passphrase-file", pf, "--", "sh", "-c", script],
        cwd=project.root,
        env=project.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _lines(log) == [f"start {PASSWORD}"], timeout=60)
        _set_password(project, "second-value")
        again = "start" if mode == "restart" else "hup"
        wait_for(lambda: len(_lines(log)) == 2, timeout=60)
        assert _lines(log)[1] == f"{again} second-value"
        _set_password(project, "third-value")
        wait_for(lambda: len(_lines(log)) == 3, timeout=60)
        assert _lines(log)[2] == f"{again} third-value"
        # Nothing changed since: no start more (the keeper looks every second)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert len(_lines(log)) == 3
            time.sleep(0.2)
        if mode == "restart":  # one generation's processes left, the others stopped
            sleepers = subprocess.run(
                ["pgrep", "-u", str(project.user.uid), "-f", "^sleep 600$"],
                capture_output=True,
                text=True,
            ).stdout.split()
            assert len(sleepers) == 1, sleepers
    finally:
        keeper.send_signal(signal.SIGTERM)
        _out, err = keeper.communicate(timeout=60)
    assert "its secrets changed" in err


def test_a_link_out_of_the_vault_or_an_unreadable_directory_never_loses_the_vault(
    project: Project,
) -> None:
    """Any process of the enclave (a granted agent's `:rw` bridge) can make both: the save
    leaves them out, and the vault still opens with everything else."""
    done = project.run(
        "sh",
        "-c",
        'cd "$TAZPOD_VAULT"; ln -s /etc/hostname evil; mkdir locked; echo x > locked/f;'
        " chmod 000 locked; echo keep > kept; truncate -s 100G big",  # (sparse: no space)
    )
    assert done.returncode == 0, done.stderr
    assert "left out, as no open would accept them" in done.stderr
    assert done.stderr.rstrip().endswith("files larger than it): big, evil)"), done.stderr
    done = project.run("sh", "-c", 'cat "$TAZPOD_VAULT/kept"; ls -A "$TAZPOD_VAULT"')
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split()
    assert listed[0] == "keep" and "evil" not in listed and "big" not in listed
