"""Issue 17 end to end: a real enclave (namespaces, tmpfs vault) against the test server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.infisical_server import ApiState, InfisicalServer

from .conftest import Project

PROJECT_ID = "proj-issue17"
CLIENT_ID, CLIENT_SECRET = "sys17-client", "sys17-client-secret"
LEGAL_NAMES = {
    "1PASSWORD_TOKEN": "digit",
    "db@host": "at",
    "my.dotted.key": "dots",
    "dash-key": "dash",
    "ключ": "пароль",
    "PLAIN": "plain value",
}
CRLF = "first\r\nsecond\r\n"


@pytest.fixture
def api() -> Iterator[InfisicalServer]:
    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET})
    state.add_secrets(PROJECT_ID, "dev", {**LEGAL_NAMES, "CRLF": CRLF, "KUBE": "kube-v1"})
    with InfisicalServer(state) as server:
        yield server


@pytest.fixture
def logged_in(project: Project, api: InfisicalServer) -> Project:
    project.set_secrets(
        f"config:\n  infisical_project_id: {PROJECT_ID}\n  infisical_url: {api.url}/api\n"
        "secrets:\n  - {name: KUBE, file: kubeconfig, env: KUBECONFIG}\n"
    )
    secret = project.root / "client-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    os.chown(secret, project.user.uid, project.user.gid)
    secret.chmod(0o600)
    done = project.tazpod(
        "login",
        "--passphrase-file",
        str(project.passfile),
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        str(secret),
    )
    assert done.returncode == 0, done.stderr
    return project


def _pull(project: Project, *extra: str) -> tuple[int, str]:
    done = project.tazpod("pull", "--passphrase-file", str(project.passfile), *extra, timeout=120)
    return done.returncode, done.stderr


def _logins(api: InfisicalServer) -> int:
    return api.state.count("/api/v1/auth/universal-auth/login")


def test_issue17_legal_names_and_a_tazpod_era_file_open_and_run_runs(
    logged_in: Project, api: InfisicalServer
) -> None:
    project = logged_in
    code, err = _pull(project)
    assert code == 0, err
    done = project.run("sh", "-c", 'printf "%s|%s" "$(cat "$PLAIN_FILE")" "$(cat "$KUBECONFIG")"')
    assert done.returncode == 0, done.stderr
    assert done.stdout == "plain value|kube-v1"
    notices = [line for line in done.stderr.splitlines() if "not exported as variables" in line]
    assert len(notices) == 1 and "db@host" in notices[0] and "1PASSWORD_TOKEN" in notices[0]
    # TazPod's .env-infisical: the Infisical CLI's export, nothing escaped.
    era = "A='it's'\nMULTI='one\ntwo'\n"
    done = project.run("sh", "-c", 'printf "%s" "$1" > "$TAZPOD_VAULT/.env-infisical"', "_", era)
    assert done.returncode == 0, done.stderr
    done = project.run("sh", "-c", 'printf "%s|%s" "$(cat "$A_FILE")" "$(cat "$MULTI_FILE")"')
    assert done.returncode == 0, done.stderr
    assert done.stdout == "it's|one\ntwo"
    code, err = _pull(project)  # and the next pull replaces it with tazpod's own format
    assert code == 0, err


def test_issue17_crlf_is_exact_in_run_and_env(logged_in: Project) -> None:
    project = logged_in
    assert _pull(project)[0] == 0
    # As hex: the test's own text-mode capture would turn CR LF into LF.
    done = project.run("sh", "-c", 'od -An -v -tx1 "$CRLF_FILE"')
    assert done.returncode == 0, done.stderr
    assert "".join(done.stdout.split()) == CRLF.encode().hex()
    done = project.run(
        "bash", "-c", 'unset CRLF_FILE; eval "$(tazpod env)" && od -An -v -tx1 "$CRLF_FILE"'
    )
    assert done.returncode == 0, done.stderr
    assert "".join(done.stdout.split()) == CRLF.encode().hex()
    code, err = _pull(project)
    assert code == 0 and "changed" not in err


def test_issue17_unreadable_pull_unknown_environment_and_empty_change_nothing(
    logged_in: Project, api: InfisicalServer
) -> None:
    project = logged_in
    assert _pull(project)[0] == 0
    api.state.add_secrets(PROJECT_ID, "dev", {"NUL": "a\0b", "KUBE": "kube-v2"})
    code, err = _pull(project)
    assert code == 8 and "NUL" in err and "no file was changed" in err
    del api.state.projects[PROJECT_ID]["dev"]["/"]["NUL"]
    secrets_yml = project.root / "secrets.yml"
    project.set_secrets(secrets_yml.read_text().replace("/api\n", "/api\n  environment: staging\n"))
    code, err = _pull(project)
    assert code == 8 and "has no environment 'staging' (it has: dev)" in err
    assert project.run("cat", f"{project.secrets}/kubeconfig").stdout == "kube-v1"


def test_issue17_revoked_token_relogs_once_and_ttl_0_logs_in_once(
    logged_in: Project, api: InfisicalServer
) -> None:
    project = logged_in
    assert _pull(project)[0] == 0
    logins = _logins(api)
    api.state.revoke_all()
    code, err = _pull(project)
    assert code == 0, err
    assert _logins(api) == logins + 1
    api.state.token_ttl = 0
    api.state.revoke_all()
    assert _pull(project)[0] == 0  # one login for the revoked token, now without expiry
    logins = _logins(api)
    for _ in range(3):
        assert _pull(project)[0] == 0
    assert _logins(api) == logins and api.state.count("/api/v1/auth/token/renew") == 0


def test_issue17_renewal_failure_exits_8_explained(
    logged_in: Project, api: InfisicalServer
) -> None:
    project = logged_in
    api.state.token_ttl = 30  # the next pull must renew
    api.state.revoke_all()
    assert _pull(project)[0] == 0
    api.state.inject(503, times=20, path_prefix="/api/v1/auth")
    code, err = _pull(project)
    assert code == 8, err
    assert "cannot sync with Infisical" in err and "internal error" not in err


def test_issue17_vault_full_exits_5_with_the_hint(logged_in: Project, api: InfisicalServer) -> None:
    project = logged_in
    project.set_config("size: 64M", "size: 1M")
    assert _pull(project)[0] == 0
    api.state.add_secrets(PROJECT_ID, "dev", {"BIG": "x" * (2 * 1024 * 1024)})
    code, err = _pull(project)
    assert code == 5, err
    assert "the vault is full" in err and "vault.size" in err and "(now 1M" in err
    assert project.run("cat", f"{project.secrets}/kubeconfig").stdout == "kube-v1"
