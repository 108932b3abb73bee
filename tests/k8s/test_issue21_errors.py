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

from .conftest import DevPod, new_project, service_account_kubeconfig

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


def _host_vault(pod: DevPod) -> list[str]:
    """The vault files on this host (`init` makes the empty directory; no files)."""
    directory = pod.root / ".tazpod" / "vault"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _assert_fails_cleanly(pod: DevPod, expected: str) -> None:
    for command in _commands(pod):
        done = pod.tazpod(*command, timeout=120)
        assert done.returncode == ExitCode.ENGINE, (command, done.returncode, done.stderr)
        assert expected in done.stderr, (command, done.stderr)
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
        assert not _host_vault(pod), command


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
            assert "tazpod up" in done.stderr, (command, done.stderr)  # the pod is not there
            assert not _host_vault(absent), command
    finally:
        shutil.rmtree(wrong.root, ignore_errors=True)
        shutil.rmtree(absent.root, ignore_errors=True)


README = Path(__file__).parents[2] / "README.md"


def _readme_role_rules() -> list[dict[str, object]]:
    """The rules of the Role the README gives, read from the README itself."""
    from ruamel.yaml import YAML

    text = README.read_text()
    section = text[text.index("**RBAC the user needs**") :]
    block = section[section.index("```yaml") + len("```yaml") : section.index("```\n", 10)]
    role = YAML(typ="safe").load(block.replace("\n  ", "\n"))
    assert role["kind"] == "Role"
    return list(role["rules"])


def test_issue21_the_readmes_role_is_exactly_what_tazpod_needs(cluster: Path, image: str) -> None:
    rules = _readme_role_rules()
    admin = new_project(cluster)
    try:
        bound = service_account_kubeconfig(admin, "tazpod-readme-role", [], rules)
        user = DevPod(admin.root, bound, admin.passfile)
        up = user.tazpod("up")
        assert up.returncode == 0, up.stderr
        assert user.tazpod("exec", "--", "true").returncode == 0
        opened = user.tazpod(
            "run", "--passphrase-file", str(user.passfile), "--", "sh", "-c", "echo ok"
        )
        assert opened.returncode == 0 and "ok" in opened.stdout, opened.stderr
        for command in (["workspace", "push"], ["workspace", "pull"], ["list"], ["status"]):
            done = user.tazpod(*command)
            assert done.returncode == 0, (command, done.stderr)
        assert user.tazpod("down", "--purge").returncode == 0
        # Each rule is needed: without pods/exec get, `up` names it and creates nothing.
        fewer = [
            {**rule, "verbs": ["create"]} if rule["resources"] == ["pods/exec"] else rule
            for rule in rules
        ]
        short = service_account_kubeconfig(admin, "tazpod-short-role", [], fewer)
        refused = DevPod(admin.root, short, admin.passfile).tazpod("up")
        assert refused.returncode == ExitCode.ENGINE, refused.stderr
        assert "may not, in namespace default: pods/exec: get (nothing was created)" in (
            refused.stderr
        )
    finally:
        admin.tazpod("down", "--purge", timeout=180)
        shutil.rmtree(admin.root, ignore_errors=True)
