"""Issue 21, items 7 and 8: an API server that cannot be reached, or a context that does
not exist, is exit 9 with a message for every command that needs the pod, and a
Kubernetes project's vault is never opened, nor created, on the host instead.

(These tests run as root, where a fall-back to the host would have built an enclave
here: "as root it created a new vault on the host".)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tazpod.errors import ExitCode

from .conftest import DevPod, new_project

pytestmark = pytest.mark.k8s


def _commands(pod: DevPod) -> list[list[str]]:
    passphrase = ["--passphrase-file", str(pod.passfile)]
    return [
        ["exec", "--", "true"],
        ["run", *passphrase, "--", "true"],
        ["unlock", *passphrase],
        ["lock"],
        ["up"],
        ["down"],
        ["list"],
        ["workspace", "push"],
        ["workspace", "pull"],
    ]


def _assert_fails_cleanly(pod: DevPod, expected: str) -> None:
    for command in _commands(pod):
        done = pod.tazpod(*command, timeout=120)
        assert done.returncode == ExitCode.ENGINE, (command, done.returncode, done.stderr)
        assert expected in done.stderr, (command, done.stderr)
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
        assert not (pod.root / ".tazpod" / "vault").exists(), command  # no host vault


def test_issue21_api_unreachable_is_exit_9_and_never_the_host(cluster: Path) -> None:
    pod = new_project(cluster)
    try:
        dead = pod.root.parent / f"{pod.root.name}.kubeconfig"
        text = cluster.read_text()
        assert "https://127.0.0.1:16443" in text
        dead.write_text(text.replace("https://127.0.0.1:16443", "https://127.0.0.1:1"))
        pod.kubeconfig = dead
        _assert_fails_cleanly(pod, "cannot reach the Kubernetes API at https://127.0.0.1:1")
    finally:
        shutil.rmtree(pod.root, ignore_errors=True)
        (pod.root.parent / f"{pod.root.name}.kubeconfig").unlink(missing_ok=True)


def test_issue21_a_wrong_context_and_a_missing_pod_never_fall_back_to_the_host(
    cluster: Path,
) -> None:
    wrong = new_project(cluster, "  context: no-such-context\n")
    absent = new_project(cluster)
    try:
        _assert_fails_cleanly(wrong, "no-such-context")
        for command in _commands(absent)[:4]:  # the ones that would have opened a vault
            done = absent.tazpod(*command, timeout=120)
            assert done.returncode == ExitCode.ENGINE, (command, done.stderr)
            assert "is not created" in done.stderr and "tazpod up" in done.stderr
            assert not (absent.root / ".tazpod" / "vault").exists()
    finally:
        shutil.rmtree(wrong.root, ignore_errors=True)
        shutil.rmtree(absent.root, ignore_errors=True)
