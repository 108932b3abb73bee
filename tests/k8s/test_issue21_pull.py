"""Issue 21, items 2, 3 and 9 on a real cluster: `workspace pull` from a pod whose user is
hostile changes nothing that runs on the host, writes nothing outside the project, and
streams (a 300 MB pull in under 3x the push's time, the host side's memory bounded).
"""

from __future__ import annotations

import hashlib
import resource
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import DevPod, tazpod_bin

pytestmark = pytest.mark.k8s

ATTACK = r"""
set -e
git init -q . 2>/dev/null || mkdir -p .git/hooks
git config core.fsmonitor 'touch "$HOME/PROOF-FSMONITOR"; false'
printf '#!/bin/sh\ntouch "$HOME/PROOF-HOOK"\n' > .git/hooks/post-checkout
chmod +x .git/hooks/post-checkout
ln -s "$HOME" homelink
ln -s .. up
mkdir -p d && ln -s ../.. d/out
sed -i 's/^privileged: false/privileged: true/' .tazpod/config.yaml
echo kept > from-pod.txt
"""


def test_issue21_a_hostile_pods_pull_changes_nothing_that_runs_here(devpod: DevPod) -> None:
    assert devpod.tazpod("up").returncode == 0
    subprocess.run(["git", "init", "-q", str(devpod.root)], check=True)
    config_before = (devpod.root / ".tazpod" / "config.yaml").read_text()
    git_config_before = (devpod.root / ".git" / "config").read_text()
    attack = devpod.tazpod("exec", "--", "sh", "-c", ATTACK)
    assert attack.returncode == 0, attack.stderr
    pulled = devpod.tazpod("workspace", "pull", "--git")  # git's data asked for too
    assert pulled.returncode == 0, pulled.stderr
    assert "left out" in pulled.stdout
    assert (devpod.root / "from-pod.txt").read_text() == "kept\n"
    assert (devpod.root / ".git" / "config").read_text() == git_config_before
    assert not (devpod.root / ".git" / "hooks" / "post-checkout").exists()
    assert (devpod.root / ".tazpod" / "config.yaml").read_text() == config_before
    for link in ("homelink", "up", "d/out"):
        assert not (devpod.root / link).is_symlink(), link
    home = Path.home()
    status = subprocess.run(
        ["git", "-C", str(devpod.root), "status", "--short"], capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    assert not (home / "PROOF-FSMONITOR").exists() and not (home / "PROOF-HOOK").exists()
    # The settings of this host are still the approved ones: commands act on them.
    assert devpod.tazpod("exec", "--", "true").returncode == 0


def _timed(pod: DevPod, *args: str) -> tuple[float, int]:
    """Wall time and the peak RSS (KiB) of one tazpod command (its own process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run(
        [tazpod_bin(), *args], cwd=pod.root, env=pod.env(), capture_output=True, text=True
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(peak, before)


def test_issue21_a_300_mb_pull_streams(devpod: DevPod) -> None:
    assert devpod.tazpod("up").returncode == 0
    make = "head -c 300M /dev/urandom > big.bin && md5sum big.bin"
    made = devpod.tazpod("exec", "--", "sh", "-c", make, timeout=300)
    assert made.returncode == 0, made.stderr
    pull_time, peak_kib = _timed(devpod, "workspace", "pull")
    big = devpod.root / "big.bin"
    assert big.stat().st_size == 300 << 20
    digest = hashlib.md5(usedforsecurity=False)
    with big.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == made.stdout.split()[0]
    # Memory: the largest of this session's child processes so far, the pull included; one
    # that kept the archive (or a second copy of it) would be above its 300 MB.
    assert peak_kib < 150 * 1024, peak_kib
    devpod.tazpod("exec", "--", "rm", "-f", "big.bin")
    push_time, _ = _timed(devpod, "workspace", "push")
    assert pull_time < 3 * push_time + 2, (pull_time, push_time)
