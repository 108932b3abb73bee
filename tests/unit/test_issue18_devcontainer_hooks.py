"""Issue 18 (part 3): what a devcontainer.json's settings do at `up` (engines faked).

The lifecycle hooks run through the engine's own exec command line; here that line runs
the command on this machine instead of in a container, so the runner's order, output,
concurrency and failures are real processes' (the e2e tier runs them in containers).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tazpod.engines import hooks, user_settings
from tazpod.engines.base import ContainerInfo, Mount
from tazpod.engines.devcontainer import spec_for
from tazpod.engines.podman import _limits
from tazpod.errors import ConfigError, EngineError
from tazpod.images import features
from tazpod.images.stack import build_image
from tazpod.project import trust
from tazpod.project.config import read_project_config
from tazpod.project.locate import Project, init_project
from tazpod.project.schema import HookCommand, Hooks, ProjectConfig
from tests.support.trusting import approve

INFO = ContainerInfo("tazpod-p-1234567", "abc", "running", "img")


class LocalEngine:
    """Docker's exec command line, except that it runs the command right here."""

    name = "docker"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], str, bool, str | None]] = []

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        self.calls.append((name, list(argv), user, tty, workdir))
        return list(argv)


def _project(tmp_path: Path, extra: str = "") -> tuple[Project, ProjectConfig]:
    init_project(tmp_path, "base", force=False)
    project = Project(tmp_path)
    project.config_path.write_text(project.config_path.read_text() + extra)
    config: ProjectConfig = read_project_config(project.config_path).config
    return project, config


def _with_hooks(**stages: tuple[HookCommand, ...]) -> ProjectConfig:
    config = ProjectConfig(image="img", container_name=INFO.name, user="dev")
    return dataclasses.replace(config, hooks=Hooks(**stages))


def _shell(text: str, name: str = "") -> tuple[HookCommand, ...]:
    return (HookCommand(name, text),)


# -- the hook runner --------------------------------------------------------------------------
def test_the_three_forms_become_argv() -> None:
    assert hooks.argv_of(HookCommand("", "npm ci && npm test")) == [
        "/bin/sh",
        "-c",
        "npm ci && npm test",
    ]
    assert hooks.argv_of(HookCommand("", ("echo", "foo='bar'"))) == ["echo", "foo='bar'"]


def test_after_create_the_hooks_run_in_order_as_the_user_in_the_workspace(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log"
    config = _with_hooks(
        on_create=_shell(f"echo on_create >> {log}"),
        update_content=(HookCommand("", ("sh", "-c", f"echo update_content >> {log}")),),
        post_create=_shell(f"echo post_create >> {log}; echo shown-live"),
        post_start=_shell(f"echo post_start >> {log}"),
        post_attach=_shell(f"echo post_attach >> {log}"),
    )
    engine, said = LocalEngine(), list[str]()
    hooks.run_up_hooks(engine, INFO, config, "created", said.append)
    assert log.read_text().split() == ["on_create", "update_content", "post_create", "post_start"]
    assert {(user, tty, workdir) for _n, _a, user, tty, workdir in engine.calls} == {
        ("dev", False, "/workspace")
    }
    # through the UI's progress (which escapes what the container prints), not raw
    assert "shown-live" in said and "shown-live" not in capfd.readouterr().out
    assert said[0] == f"running onCreateCommand: echo on_create >> {log}"


@pytest.mark.parametrize("action", ["recreated", "replaced"])
def test_a_container_made_anew_runs_the_create_hooks_again(tmp_path: Path, action: str) -> None:
    log = tmp_path / "log"
    config = _with_hooks(post_create=_shell(f"echo c >> {log}"))
    hooks.run_up_hooks(LocalEngine(), INFO, config, action, lambda _m: None)
    assert log.read_text() == "c\n"


def test_a_running_container_runs_no_hook() -> None:
    engine = LocalEngine()
    config = _with_hooks(post_create=_shell("exit 1"), post_start=_shell("exit 1"))
    hooks.run_up_hooks(engine, INFO, config, "running", lambda _m: None)
    assert engine.calls == []


def test_a_failing_hook_names_itself_its_command_and_code_and_stops_the_rest(
    tmp_path: Path,
) -> None:
    log = tmp_path / "log"
    config = _with_hooks(post_create=_shell("echo oops >&2; exit 7"), post_start=_shell(f"> {log}"))
    with pytest.raises(EngineError) as caught:
        hooks.run_up_hooks(LocalEngine(), INFO, config, "created", lambda _m: None)
    assert caught.value.message == (
        "the postCreateCommand hook failed (the hooks after it did not run):"
        " `echo oops >&2; exit 7` exited 7"
    )
    assert "tazpod up --replace" in (caught.value.hint or "")
    assert "tazpod exec" in (caught.value.hint or "") and not log.exists()


def test_named_commands_run_at_the_same_time_with_their_lines_prefixed(tmp_path: Path) -> None:
    # Each waits for the other's mark: run one after the other, both would time out.
    def waits_for(mine: str, theirs: str) -> str:
        return (
            f"touch {tmp_path / mine}; for i in $(seq 500); do [ -e {tmp_path / theirs} ] &&"
            f" break; sleep 0.01; done; [ -e {tmp_path / theirs} ] && echo {mine} saw {theirs}"
        )

    config = _with_hooks(
        post_create=(
            HookCommand("web", waits_for("a", "b")),
            HookCommand("db", ("sh", "-c", waits_for("b", "a") + "; echo to-stderr >&2")),
        )
    )
    said: list[str] = []
    hooks.run_hooks(LocalEngine(), INFO, config, "post_create", said.append)
    assert "running postCreateCommand (web, db, at the same time)" in said
    assert "[web] a saw b" in said and "[db] b saw a" in said
    assert "[db] to-stderr" in said  # (errors are merged into the prefixed output)


def test_one_failing_named_command_fails_the_stage_after_all_of_them_ran(tmp_path: Path) -> None:
    config = _with_hooks(
        post_start=(
            HookCommand("bad", ("sh", "-c", "exit 3")),
            HookCommand("good", ("sh", "-c", f"sleep 0.2; touch {tmp_path / 'good'}")),
        )
    )
    with pytest.raises(EngineError) as caught:
        hooks.run_hooks(LocalEngine(), INFO, config, "post_start", lambda _m: None)
    assert "postStartCommand hook failed" in caught.value.message
    assert "bad: `sh -c 'exit 3'` exited 3" in caught.value.message
    assert "good" not in caught.value.message and (tmp_path / "good").exists()


def test_attach_hooks_run_only_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "log"
    config = _with_hooks(post_attach=_shell(f"echo attached >> {log}"))
    hooks.run_up_hooks(LocalEngine(), INFO, config, "created", lambda _m: None)
    assert not log.exists()
    hooks.run_attach_hooks(LocalEngine(), INFO, config, lambda _m: None)
    assert log.read_text() == "attached\n"


def test_a_pods_hooks_go_through_its_exec_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from tazpod.engines.kubernetes import stream
    from tazpod.engines.kubernetes.engine import as_user

    seen: list[tuple[Any, ...]] = []

    def captured(engine: Any, name: str, argv: list[str]) -> tuple[int, bytes, bytes]:
        seen.append((name, argv))
        return 0, b"built \x1b[2Jit\n", b""

    monkeypatch.setattr(stream, "run_capture", captured)

    class Pod(LocalEngine):
        name = "kubernetes"

        def session(self, *args: Any) -> int:
            raise AssertionError("a hook's output is captured, never a raw session")

    said: list[str] = []
    hooks.run_hooks(Pod(), INFO, _with_hooks(post_start=_shell("make")), "post_start", said.append)
    merged = [*hooks._MERGED, "/bin/sh", "-c", "make"]
    assert seen == [(INFO.name, as_user(merged, "dev", "/workspace"))]
    assert "built \x1b[2Jit" in said  # (the UI escapes it as it prints)


# -- the container's settings -----------------------------------------------------------------
def test_environment_mounts_and_limits_reach_the_spec(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    project, config = _project(
        tmp_path,
        "environment: {NODE_ENV: development}\n"
        "mounts:\n"
        "  - {source: cache, target: /home/tazpod/.cache}\n"
        "  - {type: volume, source: cargo, target: /usr/local/cargo, read_only: true}\n"
        "memory: 4g\ncpus: '1.5'\nshm_size: 512m\nhostname: devbox\n",
    )
    warnings: list[str] = []
    assert spec_for(project, config, environ={}, warn=warnings.append).hostname is None
    assert warnings == [
        "hostname devbox: not set with network: host (the container has the host's)"
    ]
    config = dataclasses.replace(config, network="none")
    spec = spec_for(project, config, environ={})
    assert spec.environment == {"NODE_ENV": "development", "TAZPOD_CONTAINER": "1"}
    assert Mount(tmp_path / "cache", "/home/tazpod/.cache") in spec.mounts
    assert Mount(Path("cargo"), "/usr/local/cargo", True, volume=True) in spec.mounts
    assert (spec.memory, spec.nano_cpus, spec.shm_size) == (4 << 30, 1_500_000_000, 512 << 20)
    assert spec.hostname == "devbox"
    flags = _limits(spec)
    assert flags == [
        f"--memory={4 << 30}b",
        "--cpus=1.5",
        f"--shm-size={512 << 20}b",
        "--hostname=devbox",
    ]


def test_a_mount_source_turned_into_a_link_is_refused_at_up(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    project, config = _project(tmp_path, "mounts:\n  - {source: cache, target: /srv/c}\n")
    (tmp_path / "cache").rmdir()
    os.symlink("/etc", tmp_path / "cache")  # what a session in the container could do
    with pytest.raises(ConfigError, match="is a symbolic link"):
        spec_for(project, config, environ={})
    (tmp_path / "cache").unlink()
    with pytest.raises(ConfigError, match="does not exist; create it"):
        spec_for(project, config, environ={})


def test_a_mount_of_the_homes_credentials_or_the_approvals_is_refused_at_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setattr(user_settings, "invoking_home", lambda: home)
    root = tmp_path / "proj"
    root.mkdir()
    project, config = _project(root, f"mounts:\n  - {{source: {home / '.ssh'}, target: /k}}\n")
    with pytest.raises(ConfigError, match=r"~/.ssh in .* holds credentials"):
        spec_for(project, config, environ={})
    state = trust.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    config = dataclasses.replace(
        config, mounts=(dataclasses.replace(config.mounts[0], source=str(state.parent)),)
    )
    with pytest.raises(ConfigError, match="which no container may reach"):
        spec_for(project, config, environ={})


def test_a_pod_gets_no_host_mounts_or_limits_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    extra = "mounts:\n  - {source: c, target: /srv/c}\nmemory: 4g\n"
    project, config = _project(tmp_path, extra)
    config = dataclasses.replace(config, engine="kubernetes")
    warnings: list[str] = []
    spec = spec_for(project, config, environ={}, warn=warnings.append)
    assert spec.memory is None and all(m.target != "/srv/c" for m in spec.mounts)
    assert any("do not apply to a pod" in w for w in warnings)
    assert any("memory: not applied to a pod; set kubernetes.resources" in w for w in warnings)


# -- the build: a stage, and local Features ---------------------------------------------------
class BuildingEngine:
    name = "docker"

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.builds: list[dict[str, Any]] = []

    def image_exists(self, image: str) -> bool:
        return image in self.present

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: dict[str, str],
        progress: object,
        target: str | None = None,
    ) -> None:
        files = {
            str(p.relative_to(context)): p.read_text() for p in context.rglob("*") if p.is_file()
        }
        self.builds.append({"tag": tag, "target": target, "dockerfile": dockerfile.read_text()})
        self.builds[-1]["files"] = files
        self.present.add(tag)


def test_a_build_target_reaches_the_engine(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian AS dev\n")
    project, config = _project(
        tmp_path, "build:\n  dockerfile: Dockerfile\n  context: .\n  target: dev\n"
    )
    approve(tmp_path)
    engine = BuildingEngine()
    build_image(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    assert engine.builds[0]["target"] == "dev"


def _featured(tmp_path: Path, options: str = "{greeting: hey}") -> tuple[Project, ProjectConfig]:
    folder = tmp_path / ".devcontainer" / "hello"
    folder.mkdir(parents=True)
    (folder / "devcontainer-feature.json").write_text(
        '{"id": "hello", "version": "1.0.0", "name": "Hello", "options": {\n'
        '  "greeting": {"type": "string", "default": "hello"},\n'
        '  "loud": {"type": "boolean", "default": false}, // a comment\n'
        '  "2nd-word": {"type": "string", "default": "it\'s"}}}\n'
    )
    (folder / "install.sh").write_text('#!/bin/sh\necho "$GREETING" > /usr/local/hello\n')
    extra = f"devcontainer_features:\n  - {{path: .devcontainer/hello, options: {options}}}\n"
    project, config = _project(tmp_path, extra)
    approve(tmp_path)
    return project, config


def test_option_names_become_variables_as_the_spec_says() -> None:
    assert features.option_variable("version") == "VERSION"
    assert features.option_variable("installZsh") == "INSTALLZSH"
    assert features.option_variable("foo-bar.baz") == "FOO_BAR_BAZ"
    assert features.option_variable("2nd-word") == "_ND_WORD"


def test_local_features_are_installed_on_the_projects_image(tmp_path: Path) -> None:
    project, config = _featured(tmp_path)
    engine = BuildingEngine()
    tag = features.with_features(engine, project, config, lambda _m: None)  # type: ignore[arg-type]
    assert tag.startswith(f"{config.container_name}:features-")
    build = engine.builds[0]
    lines = build["dockerfile"].splitlines()
    assert lines[:3] == [f"FROM {config.image}", "USER root", "COPY 0/ /tmp/tazpod-features/0/"]
    assert "_REMOTE_USER=tazpod _REMOTE_USER_HOME=/home/tazpod" in lines[3]
    assert "./install.sh" in lines[3] and ". ./devcontainer-features.env" in lines[3]
    assert build["files"]["0/devcontainer-features.env"] == (
        "GREETING=hey\nLOUD=false\n_ND_WORD='it'\"'\"'s'\n"
    )
    assert "0/install.sh" in build["files"]
    assert features.with_features(engine, project, config, print) == tag  # type: ignore[arg-type]
    assert len(engine.builds) == 1  # (there already: reused)
    other = dataclasses.replace(
        config,
        devcontainer_features=(
            dataclasses.replace(config.devcontainer_features[0], options=(("greeting", "yo"),)),
        ),
    )
    assert features.with_features(engine, project, other, print) != tag  # type: ignore[arg-type]


def test_a_feature_changed_since_its_approval_is_not_built(tmp_path: Path) -> None:
    project, config = _featured(tmp_path)
    (tmp_path / ".devcontainer" / "hello" / "install.sh").write_text("#!/bin/sh\ncurl evil\n")
    with pytest.raises(trust.UntrustedConfigError, match=r"feature/\.devcontainer/hello/install"):
        features.with_features(BuildingEngine(), project, config, print)  # type: ignore[arg-type]
