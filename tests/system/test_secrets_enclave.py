"""Secrets end to end: login and pull from outside open the enclave; run and env see them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.infisical_server import ApiState, InfisicalServer

from .conftest import Project

PROJECT_ID = "proj-system"
CLIENT_ID, CLIENT_SECRET = "sys-client", "sys-client-secret"
HOSTILE = 'it\'s "$(touch /tmp/tazpod-pwned)" `id` \n second line'


@pytest.fixture
def api() -> Iterator[InfisicalServer]:
    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET})
    state.add_secrets(PROJECT_ID, "dev", {"DB_PASSWORD": HOSTILE, "KUBE": "kube-config-v1"})
    with InfisicalServer(state) as server:
        yield server


@pytest.fixture
def configured(project: Project, api: InfisicalServer) -> Project:
    project.set_secrets(
        f"config:\n  infisical_project_id: {PROJECT_ID}\n  infisical_url: {api.url}/api\n"
        "secrets:\n  - {name: KUBE, file: kubeconfig, env: KUBECONFIG}\n"
        # TazPod's habit, a value in a variable: asked for by name (files are the default)
        "delivery:\n  DB_PASSWORD: env\n"
    )
    secret = project.root / "client-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    os.chown(secret, project.user.uid, project.user.gid)
    secret.chmod(0o600)
    return project


def test_login_pull_run_env_round_trip(configured: Project, api: InfisicalServer) -> None:
    project = configured
    pf = str(project.passfile)
    done = project.tazpod(
        "login",
        "--passphrase-file",
        pf,
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        str(project.root / "client-secret"),
    )
    assert done.returncode == 0, done.stderr
    assert "machine identity sys-client" in done.stderr and "vault saved" in done.stderr

    done = project.tazpod("pull", "--passphrase-file", pf)
    assert done.returncode == 0, done.stderr
    assert "added 2: DB_PASSWORD, KUBE" in done.stderr, done.stderr
    assert "HTTP requests" in done.stderr
    for sealed in project.vault_dir.iterdir():
        assert b"kube-config-v1" not in sealed.read_bytes()
        assert CLIENT_SECRET.encode() not in sealed.read_bytes()

    done = project.run("sh", "-c", 'printf "%s|" "$DB_PASSWORD"; cat "$KUBECONFIG"')
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{HOSTILE}|kube-config-v1"

    done = project.run(
        "bash", "-c", 'unset DB_PASSWORD; eval "$(tazpod env)" && printf "%s" "$DB_PASSWORD"'
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == HOSTILE
    assert not os.path.exists("/tmp/tazpod-pwned")

    api.state.projects[PROJECT_ID]["dev"]["/"]["DB_PASSWORD"] = "rotated"
    done = project.tazpod(
        "run", "--sync", "--passphrase-file", pf, "--", "sh", "-c", 'printf "%s" "$DB_PASSWORD"'
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "rotated" and "changed 1: DB_PASSWORD" in done.stderr


def test_pull_failure_exits_nonzero_and_keeps_the_vault(
    configured: Project, api: InfisicalServer
) -> None:
    project = configured
    pf = str(project.passfile)
    project.tazpod(
        "login",
        "--passphrase-file",
        pf,
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        str(project.root / "client-secret"),
        check=True,
    )
    project.tazpod("pull", "--passphrase-file", pf, check=True)
    api.state.forbidden.add((PROJECT_ID, "dev"))
    done = project.tazpod("pull", "--passphrase-file", pf)
    assert done.returncode != 0
    assert f"forbids reading project {PROJECT_ID}" in done.stderr
    assert project.run("cat", f"{project.secrets}/kubeconfig").stdout == "kube-config-v1"
