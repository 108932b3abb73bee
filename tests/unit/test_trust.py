"""Issue 15: settings changed outside the host (in the container, a pod, a commit) are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ExitCode
from tazpod.project import trust
from tazpod.project.config import read_project_config

Cli = Callable[..., tuple[int, str, str]]


def _config(root: Path) -> Path:
    return root / ".tazpod" / "config.yaml"


def _edit(root: Path, old: str, new: str) -> None:
    text = _config(root).read_text()
    assert old in text
    _config(root).write_text(text.replace(old, new))


def test_issue15_init_approves_what_it_writes(in_tmp: Path, cli: Cli) -> None:
    code, out, _ = cli("init", "base")
    assert code == 0 and "settings approved" in out
    code, _, err = cli("vault", "status")
    assert code == 0, err
    assert trust.approval_path(in_tmp).stat().st_mode & 0o777 == 0o600
    assert trust.approval_path(in_tmp).parent.stat().st_mode & 0o777 == 0o700


def test_issue15_a_changed_setting_is_refused_with_old_and_new_values(
    in_tmp: Path, cli: Cli
) -> None:
    cli("init", "base")
    _edit(in_tmp, "network: host", "network: none")
    _edit(in_tmp, "privileged: false", "privileged: true")
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG
    assert "changed since you approved them" in err
    assert 'network: "host" -> "none"' in err
    assert "privileged: false -> true" in err
    assert "`tazpod trust`" in err
    code, _, err = cli("trust")  # no terminal: refuses to guess
    assert code == ExitCode.USAGE and "tazpod trust --yes" in err
    assert cli("vault", "status")[0] == ExitCode.CONFIG
    code, _, err = cli("trust", "--yes")
    assert code == 0 and "approved" in err
    assert cli("vault", "status")[0] == 0


def test_issue15_comments_and_layout_need_no_approval(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    _config(in_tmp).write_text("# a comment\n" + _config(in_tmp).read_text() + "\n\n")
    assert cli("vault", "status")[0] == 0


def test_issue15_a_project_never_approved_here_is_refused(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    trust.approval_path(in_tmp).unlink()  # e.g. a clone of someone else's repository
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG and "never approved on this machine" in err
    assert "container_name:" in err


def test_issue15_root_in_the_container_needs_the_hosts_digest(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    config = read_project_config(_config(in_tmp)).config
    expected = trust.digest(trust.settings_of(config))
    trust.check_digest(in_tmp, config, None, expected)
    with pytest.raises(trust.UntrustedConfigError, match="none came with this command"):
        trust.check_digest(in_tmp, config, None, None)
    _edit(in_tmp, 'user: "tazpod"', 'user: "someone"')
    edited = read_project_config(_config(in_tmp)).config
    with pytest.raises(trust.UntrustedConfigError, match="changed inside the container"):
        trust.check_digest(in_tmp, edited, None, expected)


def test_issue15_the_approval_is_never_kept_inside_the_project(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(in_tmp / "state"))
    code, _, err = cli("init", "base")
    assert code == ExitCode.CONFIG and "inside the project" in err


def test_issue15_status_shows_the_approval_state(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    assert "settings:    approved" in cli("status")[1]
    _edit(in_tmp, "x11: false", "x11: true")
    out = cli("status")[1]
    assert "changed since approved: x11 (tazpod trust)" in out


def test_issue15_attack_review_start_up_hooks_are_reserved() -> None:
    from tazpod.secrets.shell import usable_name

    for name in ("PS0", "VIMINIT", "EXINIT", "LESS", "MAKEFILES", "OPENSSL_CONF", "https_proxy"):
        assert not usable_name(name), name
    for name in ("TMUX_TMPDIR", "XDG_CONFIG_DIRS", "PIP_INDEX_URL", "SSH_ASKPASS", "GNUPGHOME"):
        assert not usable_name(name), name
    for name in ("KUBECONFIG", "AWS_ACCESS_KEY_ID", "DATABASE_URL", "GITHUB_TOKEN"):
        assert usable_name(name), name


def test_issue15_attack_review_plain_http_only_to_loopback(in_tmp: Path) -> None:
    from tazpod.errors import ConfigError
    from tazpod.secrets.mappings import read_secrets_config

    path = in_tmp / "secrets.yml"
    for url in ("http://127.0.0.1:8999", "http://localhost/api", "https://eu.infisical.com"):
        path.write_text(f"config:\n  infisical_project_id: p\n  infisical_url: {url}\n")
        read_secrets_config(path)
    path.write_text("config:\n  infisical_project_id: p\n  infisical_url: http://evil.example\n")
    with pytest.raises(ConfigError, match="plain http"):
        read_secrets_config(path)


def test_issue15_attack_review_a_symlinked_gemini_is_not_mounted(in_tmp: Path, cli: Cli) -> None:
    from tazpod.engines.devcontainer import spec_for
    from tazpod.project.locate import Project

    cli("init", "base")
    (in_tmp / ".gemini").rename(in_tmp / "gemini-real")
    (in_tmp / ".gemini").symlink_to("/etc")
    config = read_project_config(_config(in_tmp)).config
    spec = spec_for(Project(in_tmp), config)
    assert all(".gemini" not in str(mount.target) for mount in spec.mounts), spec.mounts


def _set_secrets(root: Path, environment: str = "dev", env: str = "KUBECONFIG") -> None:
    (root / "secrets.yml").write_text(
        "config:\n  infisical_project_id: p1\n  infisical_url: https://eu.infisical.com\n"
        f"  environment: {environment}\n"
        f"secrets:\n  - {{name: KUBE, file: kubeconfig, env: {env}}}\n"
    )


def test_issue15_secrets_yml_is_part_of_the_approval(in_tmp: Path, cli: Cli) -> None:
    """A session in the container turns `environment: dev` into prod, or re-points a file."""
    cli("init", "base")
    _set_secrets(in_tmp)
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG and "secrets.yml" in err
    assert cli("trust", "--yes")[0] == 0
    assert cli("vault", "status")[0] == 0
    _set_secrets(in_tmp, environment="prod", env="KUBE_OTHER")
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG
    assert 'secrets.yml:config.environment: "dev" -> "prod"' in err
    assert '"env": "KUBECONFIG"' in err and '"env": "KUBE_OTHER"' in err
    assert "changed since approved: secrets.yml:config.environment" in cli("status")[1]


def test_issue15_init_does_not_approve_a_secrets_yml_it_found(in_tmp: Path, cli: Cli) -> None:
    _set_secrets(in_tmp, environment="prod")  # e.g. from a clone
    code, out, _ = cli("init", "base")
    assert code == 0 and "review the secrets.yml that was here already" in out
    code, _, err = cli("vault", "status")
    assert code == ExitCode.CONFIG
    assert 'secrets.yml:config.environment: (not set) -> "prod"' in err


def test_issue15_a_containers_enclave_acts_on_what_its_opener_checked(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tazpod.secrets.mappings import read_secrets_config
    from tazpod.sysio import environ

    cli("init", "base")
    _set_secrets(in_tmp)
    config = read_project_config(_config(in_tmp)).config
    secrets = read_secrets_config(in_tmp / "secrets.yml")[0]
    monkeypatch.setenv(environ.GHOST_MODE, "true")
    monkeypatch.setenv(environ.APPROVED, "0" * 64)  # what an opener checked: not these
    with pytest.raises(trust.UntrustedConfigError, match="changed since this enclave"):
        trust.check_in_enclave(in_tmp, config, secrets)
    monkeypatch.setenv(environ.APPROVED, trust.digest(trust.settings_of(config, secrets)))
    trust.check_in_enclave(in_tmp, config, secrets)
    _set_secrets(in_tmp, environment="prod")
    edited = read_secrets_config(in_tmp / "secrets.yml")[0]
    with pytest.raises(trust.UntrustedConfigError, match="changed since this enclave") as caught:
        trust.check_in_enclave(in_tmp, config, edited)
    assert "`tazpod lock`, `tazpod unlock`" in (caught.value.hint or "")


def test_issue15_env_keeps_the_approved_mappings_and_says_so_once(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A same-uid session outside the enclave re-points a variable: `tazpod env` does not follow."""
    from tazpod.sysio import environ

    cli("init", "base")
    _set_secrets(in_tmp)
    assert cli("trust", "--yes")[0] == 0
    vault = in_tmp / "vault-open"
    (vault / ".tazpod").mkdir(parents=True)
    (vault / "kubeconfig").write_text("k")
    monkeypatch.setenv(environ.GHOST_MODE, "true")
    monkeypatch.setenv(environ.VAULT, str(vault))
    monkeypatch.setenv(environ.PROJECT, str(in_tmp))
    code, out, err = cli("env")
    assert code == 0 and f"export KUBECONFIG='{vault}/kubeconfig'" in out
    _set_secrets(in_tmp, env="PAGER_SECRET")
    code, out, err = cli("env")
    assert code == 0 and "KUBECONFIG" in out and "PAGER_SECRET" not in out
    assert "changed since you approved them" in err and "keeps the mappings" in err
    code, out, err = cli("env")  # told once per change
    assert code == 0 and "KUBECONFIG" in out and "approved" not in err
    assert cli("trust", "--yes")[0] == 0  # the user approves it after all
    _set_secrets(in_tmp, env="PAGER_SECRET")  # (a new version of the file)
    assert cli("trust", "--yes")[0] == 0
    code, out, err = cli("env")
    assert code == 0 and "PAGER_SECRET" in out and "KUBECONFIG" not in out


def test_issue15_attack_review_a_planted_key_cannot_redraw_the_approval_screen(
    in_tmp: Path, cli: Cli
) -> None:
    """An unknown key holding escape sequences cleared the screen, drew a harmless change
    and confined the real list to a scroll region the user never saw, then `y` approved it."""
    cli("init", "base")
    spoof = (
        '"\\e[2J\\e[1;1Htazpod:   vault.size: \\"64M\\" -> \\"128M\\"\\e[3;4r\\e[3;1H'
        '\\ntazpod:   (nothing else changed)\\u202e": 0\n'
    )
    _config(in_tmp).write_text(
        _config(in_tmp).read_text().replace('image: "', 'image: "evil-', 1) + spoof
    )
    code, out, err = cli("vault", "status")
    assert code == ExitCode.CONFIG
    for text in (out, err):
        assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J" in err and "\\u202e" in err  # shown, escaped, where it was planted
    assert "unknown key (ignored)" in err and "\\ntazpod:" in err  # one line, not two
    assert 'image: "tazpod-base' in err and '-> "evil-tazpod-base' in err  # the real change
    code, _, err = cli("trust")
    assert "\x1b" not in err and 'image: "tazpod-base' in err


def test_issue15_attack_review_output_escapes_what_a_terminal_acts_on() -> None:
    import io

    from tazpod.cli.ui import UI, shown

    assert shown("plain text, ключ, tab\there") == "plain text, ключ, tab\there"
    assert shown("a\x1b[2Jb\x9bc\x7fd\u202ee") == "a\\x1b[2Jb\\x9bc\\x7fd\\u202ee"
    err = io.StringIO()
    UI(out=io.StringIO(), err=err).error("bad \x1b]0;title\x07", hint="fix \x1b[1A it")
    assert err.getvalue() == "tazpod: bad \\x1b]0;title\\x07\nhint: fix \\x1b[1A it\n"


def test_issue15_attack_review_trust_shows_and_approves_a_custom_builds_files(
    in_tmp: Path, cli: Cli
) -> None:
    cli("init", "base")
    (in_tmp / "Dockerfile").write_text("FROM scratch\n")
    _config(in_tmp).write_text(_config(in_tmp).read_text() + "build:\n  dockerfile: Dockerfile\n")
    code, _, err = cli("trust", "--yes")
    assert code == 0 and "build file Dockerfile: added" in err
    assert trust.load_approved_build(in_tmp) is not None
    assert "approved already" in cli("trust", "--yes")[2]
    (in_tmp / "Dockerfile").write_text("FROM scratch\nRUN steal\n")
    code, _, err = cli("trust", "--yes")
    assert code == 0 and "build file Dockerfile: changed" in err


def test_issue15_attack_review_3_no_character_starts_a_line_of_its_own() -> None:
    """U+2028, NEL, VT and FF in a planted key became real line breaks before escaping."""
    import io

    from tazpod.cli.ui import UI

    err = io.StringIO()
    UI(out=io.StringIO(), err=err).info("key db\u2028  forged: a -> b\x85X\x0bY\x0cZ\u2029W\rV")
    assert err.getvalue().count("\n") == 1
    assert "\\u2028" in err.getvalue() and "\\x85" in err.getvalue() and "\\r" not in err.getvalue()


def test_issue15_attack_review_3_names_and_files_must_be_printable(in_tmp: Path) -> None:
    from tazpod.errors import ConfigError
    from tazpod.secrets.mappings import read_secrets_config

    path = in_tmp / "secrets.yml"
    for entry in (
        '{name: "A\\tdb\\tDB_FILE\\nB\\t/etc/hostname\\tPWN=$(id)", file: db, env: DB_FILE}',
        '{name: A, file: "db\\u2028  forged: a -> b", env: DB_FILE}',
        '{name: A, file: "db\\x85", env: DB_FILE}',
    ):
        path.write_text(f"config:\n  infisical_project_id: p\nsecrets:\n  - {entry}\n")
        with pytest.raises(ConfigError, match="control or formatting characters"):
            read_secrets_config(path)


def test_issue15_attack_review_3_the_env_table_is_checked_again_when_read(tmp_path: Path) -> None:
    """Rows that no secrets.yml could hold are never exported, whoever wrote the table."""
    from tazpod.secrets.environment import environment_plan
    from tazpod.secrets.shell import render

    (tmp_path / "db").write_text("x")
    rows: list[tuple[str, str, str | None]] = [
        ("A", "/etc/hostname", "HOSTFILE"),
        ("B", "db", "LD_PRELOAD"),
        ("C", "db", "PWN=$(id>/tmp/pwned)"),
        ("D", "../db", "UP"),
        ("E", "db", "DB_FILE"),
    ]
    out = render(environment_plan(rows, str(tmp_path)))
    assert out == f"export DB_FILE='{tmp_path}/db'\n"
