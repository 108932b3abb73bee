"""Issue 21, items 4, 5 and 10 (stdin): the pod's enclave lives and dies with the host
side, joins and `lock` from the host work, a config edited in the pod is not acted on,
and stdin passes through exec.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tazpod.errors import ExitCode
from tests.system.conftest import wait_for

from .conftest import DevPod, tazpod_bin

pytestmark = pytest.mark.k8s


def _hold(pod: DevPod, script: str) -> subprocess.Popen[str]:
    """A host-side `tazpod run` in a session of its own (as a terminal's job would be)."""
    return subprocess.Popen(
        [tazpod_bin(), "run", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", script],
        cwd=pod.root,
        env=pod.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _sleeping(pod: DevPod) -> bool:
    done = pod.tazpod("exec", "--", "pgrep", "-u", "tazpod", "-xf", "sleep 300", timeout=60)
    return bool(done.stdout.strip())


def test_issue21_the_pods_enclave_ends_with_the_host_side_and_joins_and_locks(
    devpod: DevPod,
) -> None:
    assert devpod.tazpod("up").returncode == 0
    # Item 10: stdin passes through exec (the pod's relay ends it), and an input that never
    # ends does not hold a command that does not read it.
    piped = devpod.tazpod("exec", "--", "cat", input="hi\nthere\n")
    assert piped.returncode == 0 and piped.stdout == "hi\nthere\n", piped.stderr
    idle = subprocess.Popen(
        [tazpod_bin(), "exec", "--", "sh", "-c", "exit 4"],
        cwd=devpod.root,
        env=devpod.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert idle.wait(timeout=120) == 4  # its stdin still open
    idle.communicate()  # (which closes it)
    holder = _hold(devpod, 'echo first > "$TAZPOD_VAULT/work"; exec sleep 300')
    wait_for(lambda: _sleeping(devpod) or holder.poll() is not None, 180)
    assert holder.poll() is None, holder.communicate()
    joined = devpod.tazpod(
        "run",
        "--passphrase-file",
        str(devpod.passfile),
        "--",
        "sh",
        "-c",
        'cat "$TAZPOD_VAULT/work"; echo second > "$TAZPOD_VAULT/second"',
    )
    assert joined.returncode == 0 and joined.stdout == "first\n", joined.stderr
    assert "joined the open enclave" in joined.stderr
    assert _sleeping(devpod)
    locked = devpod.tazpod("lock")
    assert locked.returncode == 0 and "vault saved and closed" in locked.stdout, locked
    _out, err = holder.communicate(timeout=120)
    assert "vault saved" in err, err

    # Ctrl-C (SIGINT to the host command's process group): saved and closed in the pod.
    holder = _hold(devpod, 'echo third > "$TAZPOD_VAULT/third"; exec sleep 300')
    wait_for(lambda: _sleeping(devpod) or holder.poll() is not None, 180)
    os.killpg(holder.pid, signal.SIGINT)
    holder.communicate(timeout=120)
    wait_for(lambda: not _sleeping(devpod), 120)

    # kill -9 of the host side: its streams go, the lifeline's stdin closes in the pod.
    holder = _hold(devpod, 'echo fourth > "$TAZPOD_VAULT/fourth"; exec sleep 300')
    wait_for(lambda: _sleeping(devpod) or holder.poll() is not None, 180)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    wait_for(lambda: not _sleeping(devpod), 180)

    kept = devpod.tazpod(
        "run",
        "--passphrase-file",
        str(devpod.passfile),
        "--",
        "sh",
        "-c",
        'cat "$TAZPOD_VAULT/second" "$TAZPOD_VAULT/third" "$TAZPOD_VAULT/fourth"',
    )
    assert kept.returncode == 0 and kept.stdout == "second\nthird\nfourth\n", kept.stderr

    # Item 4: the pod's user edits the config in the workspace volume; root in the pod acts
    # only on the host's approved settings, and a pull does not bring the edit here.
    edit = devpod.tazpod(
        "exec",
        "--",
        "sh",
        "-c",
        "sed -i 's/^privileged: false/privileged: true/' .tazpod/config.yaml",
    )
    assert edit.returncode == 0, edit.stderr
    refused = devpod.tazpod("run", "--passphrase-file", str(devpod.passfile), "--", "true")
    assert refused.returncode == ExitCode.CONFIG, refused.stderr
    assert "was changed inside the container" in refused.stderr
    assert devpod.tazpod("workspace", "pull").returncode == 0
    assert "privileged: true" not in (devpod.root / ".tazpod" / "config.yaml").read_text()
