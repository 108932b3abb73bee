"""Issue 15 in a real container (Docker and Podman): what uid 1000 inside can write steers nothing.

The attacker has a plain `exec -u 1000` session in the dev container: it can write the
workspace (and so .tazpod/config.yaml, a `tazpod/` package) and the user's home.
"""

from __future__ import annotations

import os

from tazpod.errors import ExitCode
from tazpod.project import trust
from tazpod.project.config import read_project_config
from tazpod.secrets.mappings import read_secrets_config
from tests.system.ptyutil import PtySession

from .conftest import PASSPHRASE, Pod, _tazpod


def _as_user(pod: Pod, script: str) -> None:
    done = pod.cli("exec", "-u", "1000", pod.name, "sh", "-c", script)
    assert done.returncode == 0, done.stderr


def _exists(pod: Pod, path: str) -> bool:
    return pod.cli("exec", "-u", "0", pod.name, "test", "-e", path).returncode == 0


def _up_with_vault(pod: Pod) -> None:
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    first = pod.tazpod("run", "--passphrase-file", str(pod.passfile), "--", "true")
    assert first.returncode == 0, first.stderr


def test_issue15_config_poisoned_in_the_container_is_refused_on_the_host(pod: Pod) -> None:
    _up_with_vault(pod)
    _as_user(
        pod,
        "sed -i 's/^privileged: false/privileged: true/; s/^x11: false/x11: true/'"
        " /workspace/.tazpod/config.yaml",
    )
    for argv in (
        ("secrets", "list", "--passphrase-file", str(pod.passfile)),
        ("run", "--passphrase-file", str(pod.passfile), "--", "true"),
        ("exec", "--", "true"),
        ("up", "--replace"),
    ):
        done = pod.tazpod(*argv)
        assert done.returncode == ExitCode.CONFIG, (argv, done.stderr)
        assert "privileged: false -> true" in done.stderr and "x11: false -> true" in done.stderr
        assert "tazpod trust" in done.stderr


def test_issue15_root_in_the_container_acts_only_on_the_hosts_digest(pod: Pod) -> None:
    _up_with_vault(pod)
    inner = ["/opt/tazpod/bin/python", "-I", "-m", "tazpod"]
    bare = pod.cli("exec", "-u", "0", pod.name, *inner, "vault", "status")
    assert bare.returncode == ExitCode.CONFIG, bare.stderr
    assert "none came with this command" in bare.stderr
    # A change made after the host checked the file: the digest no longer matches.
    secrets = read_secrets_config(pod.root / "secrets.yml")[0]
    config = read_project_config(pod.root / ".tazpod/config.yaml").config
    option = trust.APPROVED_OPTION + trust.digest(trust.settings_of(config, secrets))
    same = pod.cli("exec", "-u", "0", pod.name, *inner, option, "vault", "status")
    assert same.returncode == 0, same.stderr  # the digest of what the host approved
    _as_user(pod, "sed -i 's/^x11: false/x11: true/' /workspace/.tazpod/config.yaml")
    changed = pod.cli("exec", "-u", "0", pod.name, *inner, option, "vault", "status")
    assert changed.returncode == ExitCode.CONFIG, changed.stderr
    assert "was changed inside the container" in changed.stderr


def test_issue15_a_tazpod_package_in_the_workspace_is_never_imported(pod: Pod) -> None:
    _up_with_vault(pod)
    _as_user(
        pod,
        "mkdir -p /workspace/tazpod && for f in __init__ __main__; do"
        " echo \"open('/tmp/issue15-imported', 'w').write('x')\" > /workspace/tazpod/$f.py; done",
    )
    done = pod.tazpod("secrets", "list", "--passphrase-file", str(pod.passfile))
    assert done.returncode == 0, done.stderr
    assert not _exists(pod, "/tmp/issue15-imported")


def test_issue15_a_planted_bashrc_does_not_run_and_history_stays_in_the_vault(pod: Pod) -> None:
    _up_with_vault(pod)
    _as_user(pod, "echo 'touch /tmp/issue15-bashrc' >> ~/.bashrc")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    session = PtySession([_tazpod(), "unlock"], env, pod.root)
    session.expect("vault passphrase: ", timeout=120)
    session.send(PASSPHRASE + "\n")
    session.expect(r"\(enclave\)", timeout=120)
    session.send("echo typed-$((6*7))-here\n")
    session.expect("typed-42-here")
    session.send("exit\n")
    assert session.wait(timeout=120) == 0, session.output
    assert not _exists(pod, "/tmp/issue15-bashrc")
    leaked = pod.cli("exec", "-u", "1000", pod.name, "grep", "-rlF", "typed-$((6*7))", "/home")
    assert leaked.stdout == "", leaked.stdout
