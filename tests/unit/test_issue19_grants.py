"""Issue 19 parts that need no privileges: grants, delivery modes, value files, the opener's
options, secrets.yml's new sections."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tazpod.enclave.opener import checked_options, inner_argv
from tazpod.errors import ConfigError, UsageError
from tazpod.secrets.environment import environment_plan
from tazpod.secrets.grants import asked_names, resolve
from tazpod.secrets.mappings import SecretMapping, read_secrets_config
from tazpod.secrets.value import Secret
from tazpod.secrets.value_files import materialize

MAPPINGS = (
    SecretMapping("KUBE", "kubeconfig", "KUBECONFIG"),
    SecretMapping("CERT", "dbcert", "DB_CERT"),
)


def test_a_grant_matches_secrets_mappings_and_bridges_and_refuses_the_unknown() -> None:
    grant = resolve(
        ["KUBECONFIG", "API", ".gemini"], ["API", "OTHER"], MAPPINGS, ["~/.gemini", "~/.aws"]
    )
    assert grant.values == {"API"} and grant.files == {"kubeconfig"}
    assert grant.bridges == {"~/.gemini"}
    assert resolve(["dbcert"], [], MAPPINGS, []).files == {"dbcert"}  # by file name too
    with pytest.raises(UsageError, match="nothing in the vault is named 'NOPE'") as caught:
        resolve(["API", "NOPE"], ["API", "OTHER"], MAPPINGS, ["~/.aws"])
    assert "OTHER" in str(caught.value.hint) and "~/.aws" in str(caught.value.hint)


def test_asked_names_from_only_and_profiles() -> None:
    profiles = {"agent": (".gemini", "API")}
    assert asked_names([], None, profiles) is None  # no grant: the whole enclave
    assert asked_names(["A,B", "C"], None, profiles) == ("A", "B", "C")
    assert asked_names(["A"], "agent", profiles) == (".gemini", "API", "A")
    with pytest.raises(UsageError, match="no profile 'x'"):
        asked_names([], "x", profiles)
    for bad in ("--passphrase-file=/etc/shadow", "a b", "x=y", ""):
        with pytest.raises(UsageError):
            asked_names([bad], None, profiles)


def test_the_opener_passes_grant_options_as_single_words_and_nothing_else() -> None:
    request = {
        "op": "run",
        "command": ["id"],
        "options": ["--only", "A,B", "--restart-on-change", "--signal", "HUP"],
    }
    assert inner_argv(request, True) == [
        "run",
        "--only=A,B",
        "--restart-on-change",
        "--signal=HUP",
        "--passphrase-fd",
        "3",
        "--",
        "id",
    ]
    assert checked_options("unlock", ["--profile", "agent"]) == ["--profile=agent"]
    for options in (
        ["--only", "--passphrase-file=/etc/shadow"],  # a value that is an option
        ["--passphrase-file", "/etc/shadow"],  # an option root would act on
        ["--restart-on-change"],  # not unlock's
        ["--profile", "../x"],
        ["--only"],
        "--sync",
    ):
        with pytest.raises(UsageError):
            checked_options("unlock" if options == ["--restart-on-change"] else "run", options)


def _write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)


def test_delivery_modes_decide_variables_files_and_the_fifo(tmp_path: Path) -> None:
    _write(tmp_path, ".env-local", "A=alpha\nB=beta\nC=gamma\n")
    _write(tmp_path, "kubeconfig", "k")
    rows: list[tuple[str, str, str | None]] = [("KUBE", "kubeconfig", "KUBECONFIG")]
    plan = environment_plan(rows, str(tmp_path), {"A": "env", "C": "fifo"})
    assert {n: s.reveal() for n, s in plan.secrets.items()} == {"A": "alpha"}
    assert plan.exports["B_FILE"] == f"{tmp_path}/.tazpod/values/B"
    assert plan.exports["KUBECONFIG"] == f"{tmp_path}/kubeconfig"
    assert {n: s.reveal() for n, s in plan.value_files.items()} == {"B": "beta"}
    assert {n: s.reveal() for n, s in plan.fifo.items()} == {"C": "gamma"}
    assert {"B", "C", "C_FILE", "A_FILE"} <= set(plan.unset)
    everything = environment_plan(rows, str(tmp_path), {"*": "env"})
    assert set(everything.secrets) == {"A", "B", "C"} and not everything.value_files
    grant = resolve(["B"], ["A", "B", "C"], [SecretMapping(*rows[0])], [])
    only = environment_plan(rows, str(tmp_path), {}, grant)
    assert set(only.value_files) == {"B"} and "KUBECONFIG" not in only.exports


def test_value_files_are_private_atomic_and_never_written_through_a_link(tmp_path: Path) -> None:
    (tmp_path / ".tazpod").mkdir()
    from tazpod.secrets.value_files import sources_identity

    def made(values: dict[str, Secret]) -> list[str]:
        return materialize(str(tmp_path), values, sources_identity(str(tmp_path)))

    assert made({"A": Secret("one"), "B": Secret("two")}) == []
    values = tmp_path / ".tazpod" / "values"
    assert (values / "A").read_text() == "one" and values.stat().st_mode & 0o777 == 0o700
    assert (values / "B").stat().st_mode & 0o777 == 0o600
    before = (values / "A").stat().st_ino
    assert made({"A": Secret("one")}) == []
    assert (values / "A").stat().st_ino == before and not (values / "B").exists()
    (values / "A").unlink()  # removed by hand: made again (the directory changed)
    assert made({"A": Secret("one")}) == []
    assert (values / "A").read_text() == "one"
    (tmp_path / ".env-local").write_text("changed")  # a source changed: compared again
    assert made({"A": Secret("two")}) == []
    assert (values / "A").read_text() == "two"
    # The second review's race: the values read, then the source replaced, then the stamp
    # taken: the stamp must name the source as it was BEFORE the read, so the next call
    # compares again instead of keeping the old value for good.
    before_read = sources_identity(str(tmp_path))
    (tmp_path / ".env-local").write_text("replaced meanwhile")
    assert materialize(str(tmp_path), {"A": Secret("stale")}, before_read) == []
    assert made({"A": Secret("fresh")}) == []
    assert (values / "A").read_text() == "fresh"
    # A command planted a link where the values go (aimed at the vault's own files): it is
    # refused, and nothing there is written or removed.
    vault_files = tmp_path / "vault-root"
    vault_files.mkdir()
    (vault_files / "kubeconfig").write_text("keep me")
    for entry in values.iterdir():
        entry.unlink()
    values.rmdir()
    values.symlink_to(vault_files)
    problems = materialize(str(tmp_path), {"A": Secret("x")})
    assert problems and "not there" in problems[0]
    assert os.listdir(vault_files) == ["kubeconfig"]


def test_secrets_yml_delivery_and_profiles_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yml"
    path.write_text(
        "config: {}\ndelivery:\n  A: env\n  '*': fifo\nprofiles:\n  agent: [.gemini, A]\n"
    )
    config, warnings = read_secrets_config(path)
    assert config.delivery == (("*", "fifo"), ("A", "env")) and warnings == ()
    assert config.profiles == (("agent", (".gemini", "A")),)
    approved = config.approval_settings()
    assert approved["secrets.yml:delivery.A"] == '"env"'
    assert approved["secrets.yml:profiles.agent"] == '[".gemini", "A"]'
    path.write_text("config: {}\ndelivery:\n  A: environment\n")
    with pytest.raises(ConfigError, match=r"secrets.yml:3: delivery.A: 'environment' is no"):
        read_secrets_config(path)
    path.write_text("config: {}\nprofiles:\n  agent: [ok, 'two words']\n")
    with pytest.raises(ConfigError, match="not a name to grant"):
        read_secrets_config(path)
    path.write_text("config: {}\nprofiles:\n  agent: []\n")
    with pytest.raises(ConfigError, match="agent: is empty"):
        read_secrets_config(path)
