"""Issue 20: `tazpod exec` and `ssh` speak Docker's exec API themselves (no docker CLI),
and take the quick path while the ticket of their last full check holds.

Against the real engine: output and errors apart, exit codes, stdin to the end (and its
end), megabytes both ways unchanged, a terminal (its size, at the start and after a
resize), a stopped container, and settings changed after the ticket was written.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from tazpod.errors import ExitCode
from tests.system.ptyutil import PtySession

from .conftest import Pod, _tazpod

pytestmark = pytest.mark.e2e


def _raw(
    pod: Pod, cache: Path, *argv: str, data: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    return subprocess.run(
        [_tazpod(), "exec", "--", *argv],
        cwd=pod.root,
        env={**env, "XDG_CACHE_HOME": str(cache)},
        input=data,
        capture_output=True,
        timeout=120,
    )


def _size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@pytest.mark.parametrize("engine", ["docker"], indirect=True)
def test_issue20_exec_through_the_api_and_its_quick_path(pod: Pod, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert pod.tazpod("up").returncode == 0
    for attempt in ("full path, writes the ticket", "quick path"):
        done = _raw(pod, cache, "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n"), attempt
        assert len(list((cache / "tazpod").glob("exec-*.json"))) == 1

    data = os.urandom(3_000_000)
    piped = _raw(pod, cache, "sha256sum", data=data)
    assert (
        piped.returncode == 0
        and piped.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    )
    ended = _raw(pod, cache, "sh", "-c", "cat >/dev/null; echo stdin-ended", data=b"x" * 10)
    assert ended.stdout == b"stdin-ended\n"  # the end of ours closed the command's
    big = _raw(pod, cache, "sh", "-c", "head -c 5000000 /dev/urandom | tee /workspace/blob")
    assert big.returncode == 0 and big.stdout == (pod.root / "blob").read_bytes()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    env["XDG_CACHE_HOME"] = str(cache)
    script = "tty; stty size; read line; stty size; exit 5"
    session = PtySession([_tazpod(), "exec", "--", "sh", "-c", script], env, pod.root)
    _size(session.fd, 33, 101)  # before tazpod reads it (its start-up takes far longer)
    session.expect("/dev/pts/")
    session.expect("33 101")
    _size(session.fd, 40, 120)  # the kernel signals SIGWINCH to tazpod: it sends the size
    session.send("\n")
    session.expect("40 120")
    assert session.wait() == 5, session.output

    config = pod.root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("x11: false", "x11: true"))  # as the container
    refused = _raw(pod, cache, "true")
    assert refused.returncode == ExitCode.CONFIG, refused.stderr
    assert b"changed since you approved" in refused.stderr

    config.write_text(config.read_text().replace("x11: true", "x11: false"))
    pod.tazpod("trust", "--yes")
    assert _raw(pod, cache, "true").returncode == 0  # a new full check, a new ticket
    assert pod.cli("stop", "-t", "1", pod.name).returncode == 0
    stopped = _raw(pod, cache, "sh", "-c", "echo ran")
    assert stopped.returncode == ExitCode.ENGINE and stopped.stdout == b"", stopped.stderr
    assert b"run `tazpod up`" in stopped.stderr
