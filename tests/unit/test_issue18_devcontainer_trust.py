"""Issue 18 (part 3): an imported devcontainer.json under the approval.

Importing again keeps tazpod's own keys and the user's comments; nothing imported is
acted on before `tazpod trust` (or `up`'s question); `up` warns when the file changed;
the same keys written by hand in config.yaml meet the same checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tazpod.errors import ConfigError, ExitCode
from tazpod.project import trust
from tazpod.project.config import read_project_config
from tazpod.project.schema import HookCommand

from .test_issue18_devcontainer_json import (
    MOUNTS_RUN_ARGS,
    NODE_HOOKS,
    PYTHON_IMAGE,
    Cli,
    _config,
    _write,
)


# -- re-import and approval ----------------------------------------------------------------------
def test_a_reimport_keeps_tazpods_keys_and_comments(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, NODE_HOOKS)
    assert cli("init", "--from-devcontainer")[0] == 0
    path = in_tmp / ".tazpod" / "config.yaml"
    text = path.read_text().replace("engine: docker", "engine: podman  # my engine")
    path.write_text(text.replace("size: 64M", "size: 128M") + "# my closing note\n")
    name = _config(in_tmp).container_name
    changed = NODE_HOOKS.replace('"postAttachCommand": "echo \'welcome // not a comment\'",', "")
    _write(in_tmp, changed.replace('"NODE_ENV": "development"', '"NODE_ENV": "test"'))
    code, out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    assert config.engine == "podman" and config.vault.size_mib == 128
    assert config.container_name == name
    assert config.hooks.post_attach == () and config.environment == {"NODE_ENV": "test"}
    text = path.read_text()
    assert "engine: podman  # my engine" in text and "# my closing note" in text
    assert "imported .devcontainer/devcontainer.json into .tazpod/config.yaml again" in out


def test_an_import_is_not_approved_until_trust(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, MOUNTS_RUN_ARGS)
    assert cli("init", "--from-devcontainer")[0] == 0
    code, _out, err = cli("vault", "status")
    assert code == ExitCode.CONFIG and "never approved on this machine" in err
    assert "mounts: " in err and "hooks" not in err  # (empty hooks are no setting)
    assert cli("trust", "--yes")[0] == 0
    assert cli("vault", "status")[0] == 0
    path = in_tmp / ".tazpod" / "config.yaml"
    path.write_text(path.read_text().replace("target: /srv/docs", "target: /srv/elsewhere"))
    code, _out, err = cli("vault", "status")
    assert code == ExitCode.CONFIG and "changed since you approved them" in err
    assert '"target": "/srv/docs"' in err and '"target": "/srv/elsewhere"' in err
    assert cli("trust", "--yes")[0] == 0
    assert cli("vault", "status")[0] == 0


def test_a_reimported_change_needs_approval_too(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, PYTHON_IMAGE)
    cli("init", "--from-devcontainer")
    cli("trust", "--yes")
    _write(in_tmp, PYTHON_IMAGE.replace("requirements.txt", "dev.txt"))
    assert cli("init", "--from-devcontainer")[0] == 0
    code, _out, err = cli("vault", "status")
    assert code == ExitCode.CONFIG and "hooks.post_create" in err and "dev.txt" in err


def test_approvals_made_before_these_settings_still_hold(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    settings = trust.settings_of(_config(in_tmp))
    for key in ("environment", "mounts", "forward_ports", "devcontainer", "memory"):
        assert key not in settings
    assert not any(key.startswith("hooks.") for key in settings)


def test_up_without_a_project_offers_the_import_only_on_a_terminal(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, PYTHON_IMAGE)
    code, _out, err = cli("up")
    assert code == ExitCode.CONFIG
    assert "no tazpod project in" in err and ".devcontainer/devcontainer.json" in err
    assert "tazpod init --from-devcontainer" in err and not (in_tmp / ".tazpod").exists()


def test_up_on_a_terminal_asks_imports_and_approves(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tazpod.cli import context as contexts
    from tazpod.cli.ui import UI

    _write(in_tmp, PYTHON_IMAGE)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "y"

    monkeypatch.setattr("builtins.input", answer)
    loaded = contexts.load_context(UI(), offer_import=True)
    assert asked and "approve these settings?" in asked[0]
    assert loaded.config.user == "vscode" and loaded.project.root == in_tmp
    assert "hook postCreateCommand: pip3 install" in capsys.readouterr().out


def test_up_on_a_terminal_that_says_no_writes_nothing(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tazpod.cli import context as contexts
    from tazpod.cli.ui import UI
    from tazpod.errors import UsageError

    _write(in_tmp, PYTHON_IMAGE)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    with pytest.raises(UsageError, match="not imported"):
        contexts.load_context(UI(), offer_import=True)
    assert not (in_tmp / ".tazpod").exists()


def test_up_warns_when_the_imported_file_changed(in_tmp: Path, cli: Cli) -> None:
    from tazpod.cli import context as contexts
    from tazpod.cli.ui import UI

    _write(in_tmp, PYTHON_IMAGE)
    cli("init", "--from-devcontainer")
    cli("trust", "--yes")
    _write(in_tmp, PYTHON_IMAGE + "\n// edited\n")
    seen: list[str] = []

    class Seeing(UI):
        def warn(self, text: str) -> None:
            seen.append(text)

    contexts.load_context(Seeing(), offer_import=True)
    assert any(
        "devcontainer.json changed since it was imported" in text
        and "tazpod init --from-devcontainer" in text
        for text in seen
    )


# -- config.yaml written by hand: the same checks -------------------------------------------------
@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("environment:\n  LD_PRELOAD: /workspace/x.so\n", "environment.LD_PRELOAD: LD_PRELOAD"),
        ("environment:\n  TAZPOD_VAULT: /x\n", "tazpod's own"),
        ("environment:\n  X:\n", 'write "" for an empty one'),
        ("mounts:\n  - {source: /var/run/docker.sock, target: /d}\n", "is a socket"),
        ("mounts:\n  - {source: ./x, target: /workspace}\n", "covers the workspace"),
        ("mounts:\n  - {source: ~/.ssh, target: /k}\n", "~/.ssh in your home"),
        ("mounts:\n  - {source: a b, target: /k, type: volume}\n", "not a volume name"),
        ("hooks:\n  post_create: 3\n", "hooks.post_create: must be a command"),
        ("hooks:\n  post_start: {web: {x: 1}}\n", "hooks.post_start.web: must be a command"),
        ("forward_ports: [0]\n", "not a port number"),
        ("memory: lots\n", "memory: 'lots' is not a size"),
        ("cpus: 0\n", "not a number of CPUs"),
        ("hostname: -bad-\n", "not a host name"),
        ("devcontainer: {source: ../x.json, sha256: abc}\n", "not a relative file name"),
    ],
)
def test_the_same_keys_written_by_hand_are_checked(
    in_tmp: Path, cli: Cli, yaml: str, expected: str
) -> None:
    cli("init", "base")
    path = in_tmp / ".tazpod" / "config.yaml"
    path.write_text(path.read_text() + yaml)
    with pytest.raises(ConfigError) as caught:
        read_project_config(path)
    assert expected in caught.value.message and "config.yaml:" in caught.value.message


def test_hooks_in_config_yaml_take_the_three_forms(in_tmp: Path, cli: Cli) -> None:
    cli("init", "base")
    path = in_tmp / ".tazpod" / "config.yaml"
    path.write_text(
        path.read_text()
        + "hooks:\n  on_create: make setup\n  post_start: [git, fetch]\n"
        + "  post_attach:\n    web: npm start\n    db: [make, db]\n  post_create: ''\n"
    )
    hooks: Any = _config(in_tmp).hooks
    assert hooks.on_create == (HookCommand("", "make setup"),)
    assert hooks.post_start == (HookCommand("", ("git", "fetch")),)
    assert hooks.post_attach == (HookCommand("web", "npm start"), HookCommand("db", ("make", "db")))
    assert hooks.post_create == ()


# -- what `tazpod trust` shows is what it approves (attack review 2, F1) --------------------------
def _custom_dockerfile_project(root: Path, cli: Cli) -> Path:
    code, _out, err = cli("init", "base")
    assert code == 0, err
    config = root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text() + "build:\n  dockerfile: Dockerfile\n  context: ctx\n")
    (root / "ctx").mkdir()
    (root / "ctx" / "notes.txt").write_text("context file\n")
    dockerfile = root / "Dockerfile"
    dockerfile.write_text("FROM debian\nRUN echo EVIL-AS-APPROVED\n")
    return dockerfile


def test_trust_shows_the_build_files_as_it_approves_them_not_as_the_workspace_has_them_later(
    in_tmp: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import sys

    from tazpod.project import build_files

    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    dockerfile = _custom_dockerfile_project(in_tmp, cli)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)

    def answer(_prompt: str) -> str:  # the container swaps the file while the user looks
        dockerfile.write_text("FROM debian\nRUN echo harmless\n")
        return "y"

    monkeypatch.setattr("builtins.input", answer)
    code, _out, err = cli("trust")
    assert code == 0, err
    assert "| RUN echo EVIL-AS-APPROVED" in err  # what the user was shown ...
    approved = trust.load_approved_build(in_tmp)
    assert approved is not None
    shown = build_files._digest(next(state.rglob("Dockerfile")))
    assert approved[build_files.DOCKERFILE] == shown  # ... is exactly what was approved
    assert "these copies, read just now, are what you approve" in err
    # and the swapped file is not what is approved: the next trust names it
    code, _out, err = cli("trust", "--yes")
    assert "build file Dockerfile: changed" in err


def test_a_build_file_changed_while_trust_reads_it_approves_nothing(in_tmp: Path, cli: Cli) -> None:
    from tazpod.project import build_files
    from tazpod.project.locate import Project

    dockerfile = _custom_dockerfile_project(in_tmp, cli)
    project = Project(in_tmp)
    config = read_project_config(project.config_path).config
    current = build_files.project_manifest(project, config)
    dockerfile.write_text("FROM debian\nRUN echo swapped\n")
    with pytest.raises(ConfigError, match="changed while `tazpod trust` read it"):
        build_files.review_copies(project, config, current, ["Dockerfile"], in_tmp / "review")


def test_replace_checks_the_new_images_files_before_it_removes_the_old_container(
    in_tmp: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Attack review 2, F3: a touched context file left the user with no container."""
    from tazpod import __version__
    from tazpod.engines import devcontainer
    from tazpod.engines.base import LABEL_MANAGED, LABEL_PROJECT, LABEL_VERSION, ContainerInfo
    from tazpod.project.locate import Project

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    _custom_dockerfile_project(in_tmp, cli)
    assert cli("trust", "--yes")[0] == 0
    (in_tmp / "ctx" / "notes.txt").write_text("touched from the container\n")
    project = Project(in_tmp)
    config = read_project_config(project.config_path).config
    labels = {LABEL_MANAGED: "true", LABEL_PROJECT: str(in_tmp), LABEL_VERSION: __version__}
    removed: list[str] = []

    class Engine:
        name = "docker"

        def find(self, name: str) -> ContainerInfo:
            return ContainerInfo(name, "id", "running", config.image, labels)

        def image_exists(self, image: str) -> bool:
            return False  # the new container's image is to be built

        def remove(self, name: str, purge: bool = False) -> None:
            removed.append(name)

    with pytest.raises(trust.UntrustedConfigError, match="not the ones you approved"):
        devcontainer.up(Engine(), project, config, lambda _m: None, replace=True)  # type: ignore[arg-type]
    assert removed == []
