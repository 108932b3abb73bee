"""The enclave's round trip in a container whose users an engine remaps (shared by the
userns-remap and rootless Podman tests): a held enclave keeps other sessions out, root in
the container reaches it (as docs/security.md says), `lock` saves, the vault files belong
to the workspace's owner on the host, and the next run finds what was written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.system.conftest import wait_for

PROBE = Path(__file__).parent.parent / "system" / "probe.py"
SECRET = "remap-secret"
HOLD = f'echo {SECRET} > "$TAZPOD_VAULT/token"; exec sleep 300'

Completed = subprocess.CompletedProcess[str]


@dataclass
class Remapped:
    root: Path  # the workspace
    name: str  # the container
    passfile: Path
    tazpod: Callable[..., Completed]  # tazpod ARGS..., as the workspace's owner
    popen: Callable[[list[str]], subprocess.Popen[str]]  # the same, left running
    cli: Callable[..., Completed]  # the engine's command line, as that owner


def probe(
    cli: Callable[..., Completed], name: str, user: str, pid: int, secret: str = SECRET
) -> dict[str, str]:
    """tests/system/probe.py as ``user`` in the container, at the enclave process ``pid``
    (its workspace copy: the caller put it there)."""
    done = cli(
        "exec",
        "-u",
        user,
        name,
        "python3",
        "/workspace/probe.py",
        str(pid),
        "/home/tazpod/secrets/token",
        "/home/tazpod/secrets",
        secret,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def check_round_trip(box: Remapped, owner: tuple[int, int]) -> None:
    probe_copy = box.root / "probe.py"
    shutil.copy(PROBE, probe_copy)
    os.chown(probe_copy, *owner)
    holder = box.popen(["run", "--passphrase-file", str(box.passfile), "--", "sh", "-c", HOLD])

    def enclave_pid() -> int | None:
        argv = ["pgrep", "-u", "tazpod", "-x", "-f", "sleep 300"]  # not the container's own sleep
        found = box.cli("exec", box.name, *argv).stdout
        return int(found.split()[0]) if found.split() else None

    wait_for(lambda: enclave_pid() is not None or holder.poll() is not None, timeout=120)
    assert holder.poll() is None, holder.communicate()
    sleeper = enclave_pid()
    assert sleeper is not None

    wait_for(lambda: probe(box.cli, box.name, "0", sleeper)["proc_root"] == "leaked", 60)
    same = probe(box.cli, box.name, "tazpod", sleeper)
    for route in ("proc_root", "proc_cwd", "proc_environ", "proc_fd", "proc_mem", "ptrace"):
        assert same[route] == "denied", (route, same)
    assert same["directory"] in ("absent", "denied"), same

    locked = box.tazpod("lock")
    assert locked.returncode == 0, locked
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err
    vault = box.root / ".tazpod" / "vault"
    assert {(p.stat().st_uid, p.stat().st_gid) for p in vault.iterdir()} == {owner}
    kept = box.tazpod(
        "run", "--passphrase-file", str(box.passfile), "--", "cat", "/home/tazpod/secrets/token"
    )
    assert kept.returncode == 0 and kept.stdout == f"{SECRET}\n", kept.stderr
