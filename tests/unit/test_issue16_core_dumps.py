"""Issue 16, item 3: enclave processes get a hard RLIMIT_CORE of 0 their user cannot raise."""

from __future__ import annotations

import os
import resource
import signal
import subprocess

import pytest

from tazpod.sysio import linux


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_issue16_core_limit_cannot_be_raised_by_the_same_uid() -> None:
    pid = os.fork()
    if pid == 0:  # the enclave child's order: limit as root, then drop to the user
        code = 1
        try:
            linux.forbid_core_dumps()
            os.setresgid(65534, 65534, 65534)
            os.setgroups([])
            os.setresuid(65534, 65534, 65534)
            try:
                resource.setrlimit(resource.RLIMIT_CORE, (0, resource.RLIM_INFINITY))
            except (ValueError, OSError):
                code = 0
            os.read(os.open("/dev/zero", os.O_RDONLY), 1)
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_issue16_prlimit_from_the_same_uid_is_refused() -> None:
    """`prlimit --pid P --core=unlimited:unlimited` as P's uid, from outside: EPERM."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            linux.forbid_core_dumps()
            os.setresgid(65534, 65534, 65534)
            os.setgroups([])
            os.setresuid(65534, 65534, 65534)
            os.write(ready_w, b"r")
            os.read(os.open("/dev/zero", os.O_RDONLY), 0)
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"r"
        attempt = subprocess.run(
            [
                "/usr/bin/setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "/usr/bin/prlimit",
                f"--pid={pid}",
                "--core=unlimited:unlimited",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert attempt.returncode != 0, attempt.stdout
        assert "not permitted" in attempt.stderr
        limits = open(f"/proc/{pid}/limits").read()  # noqa: SIM115
        assert [line.split()[-3:-1] for line in limits.splitlines() if "core" in line] == [
            ["0", "0"]
        ]
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(ready_r)
