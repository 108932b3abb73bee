"""Infisical sync against the local API server: auth, listing, failures, all-or-nothing.

The commands run as they would inside an enclave (TAZPOD_GHOST_MODE/TAZPOD_VAULT
set, the vault a directory); the enclave itself is covered by the system tier.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tazpod.errors import ExitCode, SecretsError
from tazpod.secrets import store as secretstore
from tazpod.secrets.mappings import read_secrets_config
from tazpod.secrets.pull import pull
from tazpod.secrets.value import Secret
from tazpod.sources.http import JsonClient, RetryPolicy, TransportError
from tests.support.infisical_server import ApiState, InfisicalServer
from tests.support.trusting import approve

Cli = Callable[..., tuple[int, str, str]]
PROJECT = "6f1c0b0e-proj"
CLIENT_ID, CLIENT_SECRET = "client-id-1", "client-secret-xyz"


@pytest.fixture
def api() -> Iterator[InfisicalServer]:
    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET})
    state.add_secrets(PROJECT, "dev", {"DB_PASSWORD": "p@ss'w\"rd$", "KUBE": "apiVersion: v1\n"})
    state.add_secrets(PROJECT, "prod", {"DB_PASSWORD": "prod-only"})
    with InfisicalServer(state) as server:
        yield server


class Enclave:
    def __init__(self, root: Path, vault: Path, secrets_yml: Path, site: str) -> None:
        self.root, self.vault, self.secrets_yml, self.site = root, vault, secrets_yml, site

    def write_secrets(self, text: str) -> None:
        """Edit secrets.yml as the user does on the host, then approve it (tazpod trust)."""
        self.secrets_yml.write_text(text)
        approve(self.root)

    def login(self) -> None:
        """A machine identity made for this site (`tazpod login`), without a token yet."""
        secretstore.save_identity(
            self.vault, secretstore.MachineIdentity(self.site, CLIENT_ID, Secret(CLIENT_SECRET))
        )

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.vault.iterdir() if p.is_file()}


@pytest.fixture
def enclave(
    tmp_path: Path, api: InfisicalServer, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> Enclave:
    root, vault, home = tmp_path / "proj", tmp_path / "vault", tmp_path / "home"
    for directory in (root, vault, home):
        directory.mkdir()
    monkeypatch.chdir(root)
    assert cli("init", "base")[0] == 0
    secrets_yml = root / "secrets.yml"
    secrets_yml.write_text(
        f"config:\n  infisical_project_id: {PROJECT}\n  infisical_url: {api.url}/api\n"
        "secrets:\n  - {name: KUBE, file: kubeconfig, env: KUBECONFIG}\n"
    )
    approve(root)
    monkeypatch.setenv("TAZPOD_GHOST_MODE", "true")
    monkeypatch.setenv("TAZPOD_VAULT", str(vault))
    monkeypatch.setenv("TAZPOD_PROJECT", str(root))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Infisical CLI
    return Enclave(root, vault, secrets_yml, api.url)


def test_login_then_pull_writes_dotenv_and_mapped_files(
    enclave: Enclave, cli: Cli, tmp_path: Path
) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    code, _out, err = cli(
        "login", "--client-id", CLIENT_ID, "--client-secret-file", str(secret_file)
    )
    assert code == 0, err
    assert "machine identity client-id-1" in err and CLIENT_SECRET not in err
    auth = enclave.vault / secretstore.AUTH_FILE
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600

    code, _out, err = cli("pull")
    assert code == 0, err
    assert "added 2: DB_PASSWORD, KUBE" in err and "p@ss" not in err
    assert (enclave.vault / "kubeconfig").read_text() == "apiVersion: v1\n"
    for name in ("kubeconfig", ".env-infisical", secretstore.AUTH_FILE):
        assert stat.S_IMODE((enclave.vault / name).stat().st_mode) == 0o600
    values = secretstore.read_values(enclave.vault, ".env-infisical")
    assert values["DB_PASSWORD"].reveal() == "p@ss'w\"rd$"


def test_pull_reports_changes_by_name_only(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    api.state.projects[PROJECT]["dev"]["/"].update({"DB_PASSWORD": "rotated", "NEW": "n"})
    code, _out, err = cli("pull")
    assert code == 0
    assert "added 1: NEW" in err and "changed 1: DB_PASSWORD" in err
    assert "rotated" not in err


def test_constant_number_of_requests_for_200_secrets(
    enclave: Enclave, api: InfisicalServer
) -> None:
    api.state.add_secrets(PROJECT, "dev", {f"S{i:03}": f"value {i}" for i in range(200)})
    mappings = "".join(f"  - {{name: S{i:03}, file: f{i:03}}}\n" for i in range(50))
    enclave.write_secrets(
        f"config:\n  infisical_project_id: {PROJECT}\n  infisical_url: {api.url}\nsecrets:\n"
        + mappings
    )
    enclave.login()
    config, _ = read_secrets_config(enclave.secrets_yml)
    result = pull(enclave.vault, config, enclave.secrets_yml, Path.home())
    assert result.requests == 2  # one login, one list: however many secrets
    assert api.state.count("/api/v4/secrets") == 1
    assert len(result.added) == 202 and len(result.files) == 50
    assert (enclave.vault / "f049").read_text() == "value 49"


def test_environment_and_path_are_used(enclave: Enclave, api: InfisicalServer, cli: Cli) -> None:
    api.state.add_secrets(PROJECT, "prod", {"KUBE": "prod kube"}, path="/")
    api.state.add_secrets(PROJECT, "prod", {"KUBE": "app kube"}, path="/app")
    enclave.write_secrets(
        f"config:\n  infisical_project_id: {PROJECT}\n  infisical_url: {api.url}\n"
        "  environment: prod\n  secret_path: /app\n"
        "secrets:\n  - {name: KUBE, file: kubeconfig}\n"
    )
    enclave.login()
    assert cli("pull")[0] == 0
    assert (enclave.vault / "kubeconfig").read_text() == "app kube"


def test_imports_merge_local_wins_later_import_wins(enclave: Enclave, api: InfisicalServer) -> None:
    state = api.state
    state.add_secrets(PROJECT, "dev", {"A": "shared-1", "B": "shared-1"}, path="/shared1")
    state.add_secrets(PROJECT, "dev", {"B": "shared-2", "KUBE": "imported"}, path="/shared2")
    state.imports[(PROJECT, "dev", "/")] = [("dev", "/shared1"), ("dev", "/shared2")]
    enclave.login()
    config, _ = read_secrets_config(enclave.secrets_yml)
    pull(enclave.vault, config, enclave.secrets_yml, Path.home())
    values = {
        k: v.reveal() for k, v in secretstore.read_values(enclave.vault, ".env-infisical").items()
    }
    assert values["A"] == "shared-1" and values["B"] == "shared-2"
    assert values["KUBE"] == "apiVersion: v1\n"  # the folder's own key beats the import


def test_missing_mapped_secret_changes_nothing(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    before = enclave.files()
    enclave.write_secrets(
        enclave.secrets_yml.read_text()
        + "  - {name: NOPE, file: nope}\n  - {name: ALSO_NOPE, file: also}\n"
    )
    api.state.projects[PROJECT]["dev"]["/"]["DB_PASSWORD"] = "would change"
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert "missing: NOPE, ALSO_NOPE" in err and "no file was changed" in err
    after = enclave.files()
    after.pop(secretstore.AUTH_FILE)
    before.pop(secretstore.AUTH_FILE)
    assert after == before


def test_hidden_values_are_not_synced(enclave: Enclave, api: InfisicalServer, cli: Cli) -> None:
    api.state.hidden.add("DB_PASSWORD")
    enclave.login()
    code, _out, err = cli("pull")
    assert code == 0
    assert "values hidden from this identity" in err and "DB_PASSWORD" in err
    assert "DB_PASSWORD" not in secretstore.read_values(enclave.vault, ".env-infisical")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: s.identities.clear(), "refused the machine identity login: Invalid credentials"),
        (lambda s: s.forbidden.add((PROJECT, "dev")), f"forbids reading project {PROJECT}"),
        (  # Infisical's `error` says more than its `message` here (issue 17)
            lambda s: s.projects.pop(PROJECT),
            "You are not allowed to access this resource (Identity is not a member of the"
            f" specified project with ID '{PROJECT}')",
        ),
        (
            lambda s: (s.projects[PROJECT].pop("dev"), s.environments[PROJECT].remove("dev")),
            f"Infisical project {PROJECT} has no environment 'dev' (it has: prod)",
        ),
    ],
)
def test_errors_are_explained(
    enclave: Enclave,
    api: InfisicalServer,
    cli: Cli,
    setup: Callable[[ApiState], object],
    message: str,
) -> None:
    enclave.login()
    setup(api.state)
    code, _out, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert message in err and "hint:" in err
    assert CLIENT_SECRET not in err


def test_expired_token_is_renewed_and_revoked_token_relogs(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    api.state.token_ttl = 30  # inside the refresh margin: the next pull renews first
    assert cli("pull")[0] == 0
    assert cli("pull")[0] == 0
    assert api.state.count("/api/v1/auth/token/renew") == 1
    api.state.token_ttl = 7200
    api.state.revoke_all()  # revoked server-side: 401, then one fresh login
    logins = api.state.count("/api/v1/auth/universal-auth/login")
    assert cli("pull")[0] == 0
    assert api.state.count("/api/v1/auth/universal-auth/login") == logins + 1


def test_login_lockout_message(
    enclave: Enclave, api: InfisicalServer, cli: Cli, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    for _ in range(3):
        assert (
            cli("login", "--client-id", CLIENT_ID, "--client-secret-file", str(wrong))[0]
            == ExitCode.SECRETS
        )
    _code, _out, err = cli("login", "--client-id", CLIENT_ID, "--client-secret-file", str(wrong))
    assert "temporarily locked" in err


def test_throttling_honours_retry_after(enclave: Enclave, api: InfisicalServer, cli: Cli) -> None:
    enclave.login()
    api.state.inject(429, times=2, retry_after=1, path_prefix="/api/v4/secrets")
    code, _out, err = cli("pull")
    assert code == 0, err
    assert api.state.count("/api/v4/secrets") == 3


def test_server_errors_and_dropped_connections_are_retried(
    enclave: Enclave, api: InfisicalServer
) -> None:
    enclave.login()
    api.state.inject(500, path_prefix="/api/v4")
    api.state.inject(0, path_prefix="/api/v4")  # half a response, then the connection drops
    waits: list[float] = []
    config, _ = read_secrets_config(enclave.secrets_yml)
    result = pull(
        enclave.vault, config, enclave.secrets_yml, Path.home(), RetryPolicy(sleep=waits.append)
    )
    assert result.added == ["DB_PASSWORD", "KUBE"]
    assert waits == [0.5, 1.0]  # exponential backoff


def test_interrupted_sync_keeps_the_previous_files(
    enclave: Enclave, api: InfisicalServer, cli: Cli
) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    before = enclave.files()
    api.state.projects[PROJECT]["dev"]["/"]["KUBE"] = "new kube"
    api.state.inject(0, times=4, path_prefix="/api/v4")
    config, _ = read_secrets_config(enclave.secrets_yml)
    with pytest.raises(SecretsError, match="no usable answer"):
        pull(
            enclave.vault,
            config,
            enclave.secrets_yml,
            Path.home(),
            RetryPolicy(sleep=lambda _s: None),
        )
    after = enclave.files()
    assert after == before  # nothing truncated, nothing half-written
    assert not [p for p in enclave.vault.iterdir() if ".staged" in p.name or ".tmp" in p.name]


def test_throttling_is_bounded() -> None:
    state = ApiState()
    state.inject(429, times=10, retry_after=3600)
    waits: list[float] = []
    with InfisicalServer(state) as server:
        client = JsonClient(
            server.url, retry=RetryPolicy(attempts=3, max_retry_after=2, sleep=waits.append)
        )
        with pytest.raises(TransportError, match="throttling"):
            client.request("GET", "/api/v3/secrets/raw")
    assert waits == [2, 2]


def test_unreachable_server(enclave: Enclave) -> None:
    enclave.site = "http://127.0.0.1:9"  # logged in there, and it is gone
    enclave.login()
    enclave.write_secrets(
        f"config:\n  infisical_project_id: {PROJECT}\n  infisical_url: http://127.0.0.1:9\n"
    )
    config, _ = read_secrets_config(enclave.secrets_yml)
    with pytest.raises(
        SecretsError, match=r"cannot sync with Infisical at http://127\.0\.0\.1:9"
    ) as caught:
        pull(
            enclave.vault,
            config,
            enclave.secrets_yml,
            Path.home(),
            RetryPolicy(sleep=lambda _s: None),
        )
    assert "check the network" in str(getattr(caught.value, "hint", ""))


def test_not_logged_in(enclave: Enclave, cli: Cli) -> None:
    code, _out, err = cli("pull")
    assert (
        code == ExitCode.SECRETS and "not logged in to Infisical" in err and "tazpod login" in err
    )


def test_empty_project_id(enclave: Enclave, cli: Cli) -> None:
    enclave.write_secrets("config:\n  infisical_project_id: ''\n")
    code, _out, err = cli("pull")
    assert code == ExitCode.CONFIG and "infisical_project_id is empty" in err


def test_issue15_the_identity_is_never_sent_to_another_site(enclave: Enclave, cli: Cli) -> None:
    """secrets.yml is the container's to edit: pointing it elsewhere must not leak the secret."""
    enclave.login()
    text = enclave.secrets_yml.read_text()
    enclave.write_secrets(text.replace(enclave.site, "http://127.0.0.1:9"))
    code, _, err = cli("pull")
    assert code == ExitCode.SECRETS
    assert "never sends it elsewhere" in err and "tazpod login" in err
