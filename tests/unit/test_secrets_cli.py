"""`tazpod env`, `secrets set|unset|import|list`, the Infisical CLI path, and SDK fidelity."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ExitCode
from tazpod.secrets import store as secretstore
from tazpod.secrets.value import Secret
from tests.support.infisical_server import ApiState, InfisicalServer

from .test_infisical import CLIENT_ID, CLIENT_SECRET, PROJECT, Enclave, api, enclave

__all__ = ["api", "enclave"]  # fixtures shared with test_infisical
Cli = Callable[..., tuple[int, str, str]]


def test_env_outputs_values_files_and_unsets(enclave: Enclave, cli: Cli) -> None:
    enclave.login()
    assert cli("pull")[0] == 0
    secretstore.write_values(
        enclave.vault, ".env-local", {"LOCAL_ONLY": Secret("l"), "bad-name": Secret("x")}
    )
    enclave.write_secrets(
        enclave.secrets_yml.read_text() + "  - {name: DB_PASSWORD, file: gone, env: GONE_FILE}\n"
    )
    code, out, err = cli("env")
    assert code == 0
    lines = out.splitlines()
    values = enclave.vault / ".tazpod" / "values"
    assert f"export DB_PASSWORD_FILE='{values}/DB_PASSWORD'" in lines  # files by default
    assert (values / "DB_PASSWORD").read_text() == "p@ss'w\"rd$"
    assert (values / "DB_PASSWORD").stat().st_mode & 0o777 == 0o600
    assert f"export KUBECONFIG='{enclave.vault}/kubeconfig'" in lines
    assert f"export LOCAL_ONLY_FILE='{values}/LOCAL_ONLY'" in lines and "unset GONE_FILE" in lines
    assert "unset DB_PASSWORD" in lines  # a value a shell had from before goes
    assert "not exported as variables: bad-name (not a shell variable name)" in err


def test_env_refuses_a_terminal(enclave: Enclave) -> None:
    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "tazpod", "env"],
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=enclave.root,
    )
    os.close(follower)
    os.close(leader)
    assert done.returncode == ExitCode.USAGE
    assert (
        "will not print them to a terminal" in done.stderr and 'eval "$(tazpod env)"' in done.stderr
    )


def test_env_outside_an_enclave(
    enclave: Enclave, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAZPOD_GHOST_MODE")
    code, _out, err = cli("env")
    assert code == ExitCode.USAGE and "not inside an enclave" in err


def test_secrets_set_list_unset(
    enclave: Enclave, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("multi\nline 'value'\n"))
    assert cli("secrets", "set", "API_TOKEN")[0] == 0
    stored = secretstore.read_values(enclave.vault, ".env-local")
    assert stored["API_TOKEN"].reveal() == "multi\nline 'value'"
    enclave.login()
    cli("pull")
    monkeypatch.setattr("sys.stdin", io.StringIO("zq-override-value"))
    cli("secrets", "set", "DB_PASSWORD")
    code, out, _err = cli("secrets", "list")
    assert code == 0
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in out.splitlines()}
    assert rows["API_TOKEN"] == "local"
    assert rows["DB_PASSWORD"] == "local (overrides infisical)"
    assert rows["KUBE"] in ("infisical", "file kubeconfig as $KUBECONFIG")
    assert "zq-override-value" not in out and "multi" not in out
    assert cli("secrets", "unset", "API_TOKEN")[0] == 0
    assert "API_TOKEN" not in secretstore.read_values(enclave.vault, ".env-local")
    code, _out, err = cli("secrets", "unset", "API_TOKEN")
    assert code == ExitCode.USAGE and "not a local secret" in err
    code, _out, err = cli("secrets", "set", "bad/name")
    assert code == ExitCode.USAGE and "not a secret name" in err


def test_secrets_import(enclave: Enclave, cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "in.env"
    source.write_text("export A='1'\nB=\"two\\nlines\"\n")
    code, _out, err = cli("secrets", "import", str(source))
    assert code == 0 and "imported 2 secrets" in err
    assert secretstore.read_values(enclave.vault, ".env-local")["B"].reveal() == "two\nlines"
    source.write_text("A=1\nbroken line\n")
    code, _out, err = cli("secrets", "import", str(source))
    assert code == ExitCode.CONFIG and f"{source}:2:" in err
    code, _out, err = cli("secrets", "import", str(tmp_path / "missing.env"))
    assert code == ExitCode.USAGE and "no such file" in err


def test_infisical_cli_session_is_used_when_no_machine_identity(
    enclave: Enclave, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tazpod controls the command and environment; the CLI itself cannot be installed here."""
    home = Path(os.environ["HOME"])
    (home / ".infisical").mkdir()
    (home / ".infisical" / "infisical-config.json").write_text(
        json.dumps({"loggedInUserEmail": "dev@example.org", "LoggedInUserDomain": "x"})
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "record.json"
    fake = bin_dir / "infisical"
    fake.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        "seen = {'argv': sys.argv[1:], 'home': os.environ.get('HOME'), 'env': sorted(os.environ)}\n"
        f"json.dump(seen, open({str(record)!r}, 'w'))\n"
        "out = [{'key': 'DB_PASSWORD', 'value': 'from-cli'}, {'key': 'KUBE', 'value': 'k'}]\n"
        "print(json.dumps(out))\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    code, _out, err = cli("pull")
    assert code == 0, err
    assert "as dev@example.org, through the Infisical CLI" in err
    seen = json.loads(record.read_text())
    assert seen["argv"][:2] == ["export", "--format=json"]
    assert f"--projectId={PROJECT}" in seen["argv"] and "--env=dev" in seen["argv"]
    assert (
        seen["home"] == str(home) and sorted(seen["env"]) == ["HOME", "LC_CTYPE", "PATH"]
    ) or set(seen["env"]) <= {"HOME", "PATH", "LC_CTYPE", "PWD", "SHLVL", "_"}
    assert (enclave.vault / "kubeconfig").read_text() == "k"


def test_official_sdk_accepts_the_test_server() -> None:
    """Fidelity: Infisical's own Python SDK, unchanged, against the local server."""
    from infisical_sdk import InfisicalSDKClient

    state = ApiState(identities={CLIENT_ID: CLIENT_SECRET})
    state.add_secrets(PROJECT, "dev", {"A": "1", "B": "two"})
    state.add_secrets(PROJECT, "dev", {"C": "imported"}, path="/shared")
    state.imports[(PROJECT, "dev", "/")] = [("dev", "/shared")]
    with InfisicalServer(state) as server:
        client = InfisicalSDKClient(host=server.url, cache_ttl=None)
        login = client.auth.universal_auth.login(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        assert login.tokenType == "Bearer" and login.expiresIn > 0
        listing = client.secrets.list_secrets(
            project_id=PROJECT, environment_slug="dev", secret_path="/"
        )
        assert {s.secretKey: s.secretValue for s in listing.secrets} == {"A": "1", "B": "two"}
        assert [s["secretKey"] for s in listing.imports[0].secrets] == ["C"]  # SDK keeps dicts
        one = client.secrets.get_secret_by_name(
            secret_name="B", project_id=PROJECT, environment_slug="dev", secret_path="/"
        )
        assert one.secretValue == "two"
        from infisical_sdk.infisical_requests import APIError

        with pytest.raises(APIError) as caught:
            client.secrets.get_secret_by_name(
                secret_name="NOPE", project_id=PROJECT, environment_slug="dev", secret_path="/"
            )
        assert caught.value.status_code == 404


def test_env_caches_secrets_yml_and_notices_changes(enclave: Enclave) -> None:
    (enclave.vault / ".tazpod").mkdir()
    (enclave.vault / "kubeconfig").write_text("k")
    probe = (
        "import sys, io, contextlib\n"
        "from tazpod.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    main(['env'])\n"
        "print(repr(out.getvalue()), any(m.startswith('ruamel') for m in sys.modules))\n"
    )

    def env_run() -> tuple[str, bool]:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ),
        )
        text, parsed = done.stdout.rsplit(" ", 1)
        return text, parsed.strip() == "True"

    first, parsed_first = env_run()
    second, parsed_second = env_run()
    assert parsed_first and not parsed_second  # the second prompt skips YAML entirely
    assert first == second and "KUBECONFIG" in first
    enclave.write_secrets(
        enclave.secrets_yml.read_text().replace("env: KUBECONFIG", "env: KUBE_FILE")
    )
    third, parsed_third = env_run()
    assert parsed_third and "KUBE_FILE" in third and "KUBECONFIG" not in third
