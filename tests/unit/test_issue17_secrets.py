"""Issue 17: secrets behave as real Infisical does, and a vault never locks its user out.

Each test names the numbered item of the issue it guards. The commands run as inside an
enclave (the vault a directory), against the local server that follows Infisical's source.
"""

from __future__ import annotations

import errno
import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ExitCode, SecretsError
from tazpod.secrets import dotenv
from tazpod.secrets import store as secretstore
from tazpod.secrets.mappings import read_secrets_config
from tazpod.secrets.pull import SyncResult, pull
from tazpod.secrets.value import Secret
from tazpod.sources.http import ApiError, JsonClient, RetryPolicy
from tests.support.infisical_server import ApiState, InfisicalServer

from .test_infisical import CLIENT_ID, CLIENT_SECRET, PROJECT, Enclave, api, enclave

__all__ = ["api", "enclave"]
Cli = Callable[..., tuple[int, str, str]]
LEGAL_NAMES = {  # Infisical forbids only ':' and '/'
    "1PASSWORD_TOKEN": "leading digit",
    "db@host": "at sign",
    "my.dotted.key": "dots",
    "dash-key": "it's a dash",
    "ключ": "пароль",
    "OK_NAME": "exported",
}
NO_WAIT = RetryPolicy(sleep=lambda _s: None)


def _values(vault: Path, name: str = secretstore.INFISICAL_ENV) -> dict[str, str]:
    return {k: v.reveal() for k, v in secretstore.read_values(vault, name).items()}


def _pull(enclave: Enclave, allow_empty: bool = False) -> SyncResult:
    config, _ = read_secrets_config(enclave.secrets_yml)
    return pull(enclave.vault, config, enclave.secrets_yml, Path.home(), NO_WAIT, allow_empty)


def _logins(api: InfisicalServer) -> int:
    return api.state.count("/api/v1/auth/universal-auth/login")


# -- 1. names Infisical allows ------------------------------------------------------------
def test_issue17_every_legal_name_round_trips_and_is_listed_not_exported(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    api.state.add_secrets(PROJECT, "dev", LEGAL_NAMES)
    enclave.login()
    code, _out, err = cli("pull")
    assert code == 0, err
    assert _values(enclave.vault).items() >= LEGAL_NAMES.items()
    assert cli("pull")[0] == 0  # and the next pull opens what the first wrote
    code, out, _err = cli("secrets", "list")
    assert code == 0
    for name in LEGAL_NAMES:
        assert name in out
    assert "db@host" in out and "not exported (not a shell variable name)" in out
    code, out, err = cli("env")
    assert code == 0
    # delivered as a file by default: the variable holds its path
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
    )
    assert Path(exports["OK_NAME_FILE"].strip("'")).read_text() == "exported"
    assert "db@host" not in out and "1PASSWORD_TOKEN" not in out
    notices = [line for line in err.splitlines() if "not exported as variables" in line]
    assert len(notices) == 1  # said once, by name, with the reason
    for name in set(LEGAL_NAMES) - {"OK_NAME"}:
        assert name in notices[0]
    assert "(not a shell variable name)" in notices[0]


def test_issue17_secrets_set_accepts_infisical_names(
    enclave: Enclave, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("v"))
    code, _out, err = cli("secrets", "set", "1PASSWORD_TOKEN")
    assert code == 0 and "not exported" in err
    assert _values(enclave.vault, ".env-local") == {"1PASSWORD_TOKEN": "v"}


# -- the vault always opens ----------------------------------------------------------------
def test_issue17_unreadable_lines_are_reported_and_skipped(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    local = enclave.vault / ".env-local"
    local.write_text(f"{dotenv.HEADER}\nGOOD='g'\nBROKEN='zq-secret-value' junk\n=x\n")
    for command in (("env",), ("secrets", "list"), ("pull",)):
        code, out, err = cli(*command)
        assert code == 0, (command, err)
        assert "zq-secret-value" not in err and "zq-secret-value" not in out
    _code, _out, err = cli("secrets", "list")
    assert f"{local}:3: BROKEN: unexpected text after the value" in err
    _code, out, err = cli("env")
    assert f"{local}:3: BROKEN: unexpected text after the value" in err
    assert f"{local}:4: expected NAME=value" in err
    assert "export GOOD_FILE=" in out
    assert "DB_PASSWORD" in out  # the other file is untouched by the damage


def test_issue17_a_tazpod_era_env_infisical_opens(enclave: Enclave, cli: Cli) -> None:
    # The Infisical CLI's `export --format=dotenv`, as TazPod wrote it: nothing escaped.
    era = "A='it's'\nMULTI='first\nsecond 'quoted'\n'\nC='x''y'\nD=''\n"
    (enclave.vault / ".env-infisical").write_text(era)
    assert _values(enclave.vault) == {
        "A": "it's",
        "MULTI": "first\nsecond 'quoted'\n",
        "C": "x''y",
        "D": "",
    }
    code, out, err = cli("env")
    assert code == 0, err
    done = subprocess.run(
        ["bash", "-c", 'eval "$1"; cat "$A_FILE"; printf "|"; cat "$MULTI_FILE"', "_", out],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "it's|first\nsecond 'quoted'\n"


def test_issue17_a_pull_that_would_not_read_back_changes_nothing(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    before = enclave.files()
    api.state.add_secrets(PROJECT, "dev", {"NUL_VALUE": "a\0b", "DB_PASSWORD": "new"})
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert "NUL_VALUE" in err and "no file was changed" in err
    assert enclave.files() == before


def test_issue17_read_back_is_the_check(
    enclave: Enclave, api: InfisicalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the renderer gets wrong, the read-back catches before any file is replaced."""
    enclave.login()
    _pull(enclave)
    before = enclave.files()
    api.state.add_secrets(PROJECT, "dev", {"X": "x"})
    real = dotenv.render
    monkeypatch.setattr(dotenv, "render", lambda v: real(v).replace("X='x'", "X='x"))
    with pytest.raises(SecretsError, match="could not hold exactly: X"):
        _pull(enclave)
    assert enclave.files() == before


# -- 3. a 401 re-logs in once ---------------------------------------------------------------
def test_issue17_revoked_token_relogs_in_once(enclave: Enclave, api: InfisicalServer) -> None:
    enclave.login()
    _pull(enclave)
    logins = _logins(api)
    api.state.revoke_all()  # Infisical: 401 for revoked tokens, not 403
    _pull(enclave)
    assert _logins(api) == logins + 1
    api.state.inject(401, times=2, path_prefix="/api/v4/secrets", message="No identity access")
    with pytest.raises(SecretsError, match="rejected the access token") as caught:
        _pull(enclave)
    assert _logins(api) == logins + 2  # one fresh login, one retry, then an explained stop
    assert caught.value.exit_code == ExitCode.SECRETS


def test_issue17_expired_token_403_tokenerror_relogs_in(
    enclave: Enclave, api: InfisicalServer
) -> None:
    enclave.login()
    _pull(enclave)
    identity = secretstore.load_identity(enclave.vault)
    assert identity is not None and identity.access_token is not None
    random_part = identity.access_token.reveal().split(".")[2]
    expired = f"tok.1000.{random_part}"  # a JWT whose exp is long past: 403 TokenError
    api.state.tokens[expired] = 1000
    stale = secretstore.MachineIdentity(
        identity.site, CLIENT_ID, identity.client_secret, Secret(expired), None
    )
    secretstore.save_identity(enclave.vault, stale)  # one that tazpod believes valid
    logins = _logins(api)
    _pull(enclave)
    assert _logins(api) == logins + 1


# -- 4. renewal failures -------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 0, 401])
def test_issue17_renewal_failure_falls_back_to_login(
    enclave: Enclave, api: InfisicalServer, status: int
) -> None:
    enclave.login()
    api.state.token_ttl = 30  # inside the margin: the next pull renews
    _pull(enclave)
    logins = _logins(api)
    api.state.inject(status, times=4, path_prefix="/api/v1/auth/token/renew")
    result = _pull(enclave)
    assert result is not None and _logins(api) == logins + 1


def test_issue17_renewal_and_login_unreachable_exit_8_explained(
    enclave: Enclave, api: InfisicalServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    enclave.login()
    api.state.token_ttl = 30
    _pull(enclave)

    class NoWait(JsonClient):  # the CLI's own retry policy, without the pauses
        def __init__(self, base_url: str, timeout: float = 20.0, retry: object = None) -> None:
            super().__init__(base_url, timeout, NO_WAIT)

    monkeypatch.setattr("tazpod.sources.infisical.JsonClient", NoWait)
    api.state.inject(503, times=10, path_prefix="/api/v1/auth")
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS, err
    assert "cannot sync with Infisical" in err and "the server failed (503)" in err
    assert "internal error" not in err


# -- 5. an empty answer is not applied silently -------------------------------------------------
def test_issue17_unknown_environment_changes_nothing(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    before = enclave.files()
    enclave.write_secrets(
        enclave.secrets_yml.read_text().replace("\nsecrets:", "\n  environment: staging\nsecrets:")
    )
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert f"project {PROJECT} has no environment 'staging' (it has: dev, prod)" in err
    assert "no file was changed" in err
    before.pop(secretstore.AUTH_FILE)
    after = enclave.files()
    after.pop(secretstore.AUTH_FILE)
    assert after == before


def test_issue17_empty_folder_needs_allow_empty(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.write_secrets(
        f"config:\n  infisical_project_id: {PROJECT}\n  infisical_url: {api.url}/api\n"
    )
    enclave.login()
    assert cli("pull")[0] == 0
    held = len(_values(enclave.vault))
    api.state.projects[PROJECT]["dev"]["/"].clear()
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert f"environment 'dev', path /) gives no secrets, and the vault holds {held}" in err
    assert "--allow-empty" in err
    assert len(_values(enclave.vault)) == held
    code, _out, err = cli("pull", "--allow-empty")
    assert code == 0, err
    assert _values(enclave.vault) == {} and f"removed {held}" in err


# -- 6. TTL 0 ------------------------------------------------------------------------------
def test_issue17_ttl_0_logs_in_once_for_many_pulls(
    enclave: Enclave, api: InfisicalServer, cli: Cli, tmp_path: Path
) -> None:
    api.state.token_ttl = 0
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    code, _out, err = cli(
        "login", "--client-id", CLIENT_ID, "--client-secret-file", str(secret_file)
    )
    assert code == 0 and "token does not expire" in err and "-1 min" not in err
    for _ in range(5):
        assert cli("pull")[0] == 0
    assert _logins(api) == 1
    assert api.state.count("/api/v1/auth/token/renew") == 0


# -- 7. carriage returns -------------------------------------------------------------------
def test_issue17_crlf_values_are_exact(enclave: Enclave, api: InfisicalServer, cli: Cli) -> None:
    value = "line one\r\nline two\r\n\rlone cr\r"
    api.state.add_secrets(PROJECT, "dev", {"CRLF": value})
    enclave.login()
    assert cli("pull")[0] == 0
    assert _values(enclave.vault)["CRLF"] == value
    code, _out, err = cli("pull")
    assert code == 0 and "changed" not in err  # the same bytes are the same secret
    _code, out, _err = cli("env")
    done = subprocess.run(
        ["bash", "-c", 'eval "$1"; cat "$CRLF_FILE"', "_", out], capture_output=True, check=True
    )
    assert done.stdout == value.encode()


# -- 8. vault full -------------------------------------------------------------------------
def test_issue17_vault_full_exits_5_with_the_size_and_hint(
    enclave: Enclave, api: InfisicalServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    before = enclave.files()
    api.state.add_secrets(PROJECT, "dev", {"BIG": "x" * 300_000})

    def full(*_args: object, **_kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(secretstore, "atomic_writer", full)
    monkeypatch.setattr(secretstore, "write_atomic", full)
    code, _out, err = cli("pull")
    assert code == ExitCode.VAULT, err
    assert "the vault is full" in err and "KiB more" in err
    assert "vault.size in .tazpod/config.yaml (now 64M" in err and "unlock again" in err
    assert enclave.files() == before
    monkeypatch.setattr("sys.stdin", io.StringIO("v"))
    code, _out, err = cli("secrets", "set", "X")
    assert code == ExitCode.VAULT and "vault.size" in err


# -- 9. import what python-dotenv reads ----------------------------------------------------------
def test_issue17_import_reads_python_dotenv_files(
    enclave: Enclave, cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "in.env"
    source.write_text(
        "# a comment\n"
        "export GREETING=hello world\n"
        "TRAILING=value   # comment\n"
        'MULTI="first\nsecond"\n'
        "SINGLE='it\\'s'\n"
        "REF=${HOME}/x\n"
        "\n"
        "EMPTY=\n"
    )
    code, _out, err = cli("secrets", "import", str(source))
    assert code == 0, err
    assert _values(enclave.vault, ".env-local") == {
        "GREETING": "hello world",
        "TRAILING": "value",
        "MULTI": "first\nsecond",
        "SINGLE": "it's",
        "REF": "${HOME}/x",
        "EMPTY": "",
    }
    assert f"{source}:6: SINGLE: backslashes in single quotes" in err
    assert f"{source}:7: REF: kept ${{...}} literally" in err
    source.write_text("A=1\nB='never closed\nC=3\n")
    code, _out, err = cli("secrets", "import", str(source))
    assert code == ExitCode.CONFIG and f"{source}:2: B: unterminated ' quote" in err
    assert "nothing was imported" in err


# -- 10. v4, the v3 fallback, and the `error` field ---------------------------------------------
def test_issue17_lists_through_v4_and_falls_back_to_v3(
    enclave: Enclave, api: InfisicalServer
) -> None:
    enclave.login()
    _pull(enclave)
    assert api.state.count("/api/v4/secrets") == 1 and api.state.count("/api/v3") == 0
    api.state.v4 = False
    api.state.projects[PROJECT]["dev"]["/"]["DB_PASSWORD"] = "from v3"
    _pull(enclave)
    assert api.state.count("/api/v3/secrets/raw") == 1
    assert _values(enclave.vault)["DB_PASSWORD"] == "from v3"


# -- the test server follows Infisical's source ----------------------------------------------
def test_issue17_server_fidelity() -> None:
    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET}, token_ttl=0)
    state.add_secrets(PROJECT, "dev", {"A": "1"})
    with pytest.raises(ValueError, match="does not allow"):
        state.add_secrets(PROJECT, "dev", {"a:b": "x"})
    with InfisicalServer(state) as server:
        client = JsonClient(server.url, retry=NO_WAIT)
        login = client.request(
            "POST",
            "/api/v1/auth/universal-auth/login",
            body={"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
        )
        assert login["expiresIn"] == 0
        token = login["accessToken"]
        base = {"projectId": PROJECT, "secretPath": "/"}
        off = client.request("GET", "/api/v4/secrets", {**base, "environment": "dev"}, token=token)
        assert "imports" not in off  # Infisical leaves the key out when imports are off
        for env in ("nope",):  # unknown environment: 200 with empty lists
            empty = client.request(
                "GET",
                "/api/v4/secrets",
                {**base, "environment": env, "includeImports": "true"},
                token=token,
            )
            assert empty == {"secrets": [], "imports": []}
        with pytest.raises(ApiError) as caught:
            client.request(
                "GET",
                "/api/v4/secrets",
                {**base, "environment": "dev", "recursive": "yes"},
                token=token,
            )
        assert (
            caught.value.status == 422
            and "query.recursive: Invalid enum value" in caught.value.message
        )
        with pytest.raises(ApiError) as caught:
            client.request("GET", "/api/v4/secrets", {**base, "environment": "dev"}, token="x")
        assert (caught.value.status, caught.value.error) == (403, "TokenError")
        with pytest.raises(ApiError) as caught:
            client.request("GET", "/api/v1/workspace/other", token=token)
        assert caught.value.status == 403 and "not a member" in caught.value.error
        project = client.request("GET", f"/api/v1/workspace/{PROJECT}", token=token)
        assert [e["slug"] for e in project["workspace"]["environments"]] == ["dev"]
        state.revoke_all()
        with pytest.raises(ApiError) as caught:
            client.request("GET", "/api/v4/secrets", {**base, "environment": "dev"}, token=token)
        assert caught.value.status == 401


def test_issue17_throttling_carries_rate_limit_headers() -> None:
    import urllib.error
    import urllib.request

    state = ApiState()
    state.inject(429, retry_after=7)
    with InfisicalServer(state) as server:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{server.url}/api/v4/secrets")
        headers = caught.value.headers
        assert caught.value.code == 429 and headers["Retry-After"] == "7"
        assert headers["x-ratelimit-limit"] and headers["x-ratelimit-remaining"] == "0"


def test_issue17_official_sdk_reads_legal_names_and_unknown_environments() -> None:
    from infisical_sdk import InfisicalSDKClient

    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET})
    state.add_secrets(PROJECT, "dev", LEGAL_NAMES)
    with InfisicalServer(state) as server:
        client = InfisicalSDKClient(host=server.url, cache_ttl=None)
        client.auth.universal_auth.login(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        listing = client.secrets.list_secrets(
            project_id=PROJECT, environment_slug="dev", secret_path="/"
        )
        assert {s.secretKey: s.secretValue for s in listing.secrets} == LEGAL_NAMES
        none = client.secrets.list_secrets(
            project_id=PROJECT, environment_slug="staging", secret_path="/"
        )
        assert none.secrets == []
