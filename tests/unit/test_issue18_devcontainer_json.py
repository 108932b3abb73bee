"""Issue 18 (part 3): devcontainer.json projects.

`tazpod init --from-devcontainer` reads JSON with comments and translates every property
of the spec (devcontainers/spec, devContainer.base.schema.json) into config.yaml, where
the approval covers it. The files below are shaped like the devcontainers/templates and
devcontainers/images ones (their comments, their variables, their trailing text).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod.errors import ConfigError, ExitCode
from tazpod.project.config import read_project_config
from tazpod.project.devcontainer_json import jsonc
from tazpod.project.schema import HookCommand, ProjectConfig

Cli = Callable[..., tuple[int, str, str]]

# -- the files --------------------------------------------------------------------------------
PYTHON_IMAGE = """\
// For format details, see https://aka.ms/devcontainer.json. For config options, see the
// README at: https://github.com/devcontainers/templates/tree/main/src/python
{
\t"name": "Python 3",
\t// Or use a Dockerfile or Docker Compose file. More info: https://containers.dev/guide/dockerfile
\t"image": "mcr.microsoft.com/devcontainers/python:1-3.12-bullseye",
\t"features": {
\t\t"ghcr.io/devcontainers/features/common-utils:2": {"installZsh": "true"}
\t},
\t"forwardPorts": [8000],
\t"postCreateCommand": "pip3 install --user -r requirements.txt",
\t"customizations": {"vscode": {"extensions": ["ms-python.python"]}},
\t// Uncomment to connect as root instead. More info: https://aka.ms/dev-containers-non-root.
\t"remoteUser": "vscode"
}
"""
DOCKERFILE_BUILD = """\
{
    "name": "C++ with a build",
    "build": {
        "dockerfile": "Dockerfile",
        "context": "..",
        "args": {
            "VARIANT": "bookworm",
            "REINSTALL_CMAKE_VERSION_FROM_SOURCE": "none",
            "GITHUB_TOKEN": "${localEnv:GITHUB_TOKEN}", // never into config.yaml
        },
        "target": "dev",
        "cacheFrom": "ghcr.io/example/cache",
    },
    "containerEnv": {"CC": "gcc", "PROJECT": "${localWorkspaceFolderBasename}"},
    "containerUser": "builder",
    "remoteUser": "dev",
    "workspaceFolder": "/workspaces/${localWorkspaceFolderBasename}",
    "onCreateCommand": "cmake -S . -B build",
    "updateContentCommand": ["cmake", "--build", "build"],
}
"""
NODE_HOOKS = """\
{
  "name": "Node.js",
  "image": "mcr.microsoft.com/devcontainers/javascript-node:1-20-bookworm",
  /* three forms of lifecycle commands */
  "postCreateCommand": {
    "deps": "npm ci",
    "migrate": ["npm", "run", "db:migrate"],
    "empty": ""
  },
  "postStartCommand": ["npm", "run", "watch", "--prefix", "${containerWorkspaceFolder}"],
  "postAttachCommand": "echo 'welcome // not a comment'",
  "forwardPorts": [3000, "db:5432", "localhost:9229", 3000],
  "portsAttributes": {"3000": {"label": "Application", "onAutoForward": "notify"}},
  "remoteEnv": {
    "PATH": "${containerEnv:PATH}:/home/node/.npm-global/bin",
    "NODE_ENV": "development",
    "DROPPED": null
  },
  "containerEnv": {"DROPPED": "x"},
  "remoteUser": "node"
}
"""
FEATURES = """\
{
\t"name": "Kubernetes - Local Configuration",
\t"image": "mcr.microsoft.com/devcontainers/base:bullseye",
\t"features": {
\t\t"ghcr.io/devcontainers/features/docker-outside-of-docker:1": {
\t\t\t"enableNonRootDocker": "true",
\t\t\t"moby": "true"
\t\t},
\t\t"ghcr.io/devcontainers/features/kubectl-helm-minikube:1": {"version": "latest"},
\t\t"https://example.com/releases/devcontainer-feature-go.tgz": {"optionA": "value"},
\t\t"./local-features/hello": {"greeting": "hey", "loud": true}
\t},
\t"initializeCommand": "cd .devcontainer && bash ensure-mount-sources",
\t"mounts": [
\t\t{
\t\t\t"source": "${env:HOME}${env:USERPROFILE}/.kube",
\t\t\t"target": "/usr/local/share/kube-localhost",
\t\t\t"type": "bind"
\t\t}
\t],
\t"remoteUser": "vscode"
}
"""
MOUNTS_RUN_ARGS = """\
{
  "name": "Rust",
  "image": "mcr.microsoft.com/devcontainers/rust:1-1-bookworm",
  "mounts": [
    "source=${localWorkspaceFolder}/.cache,target=/home/vscode/.cache,type=bind,consistency=cached",
    "src=cargo-${devcontainerId},dst=/usr/local/cargo,type=volume",
    {"source": "target-cache", "target": "/workspaces-target", "type": "volume"},
    "source=${localWorkspaceFolder}/docs,target=/srv/docs,type=bind,readonly"
  ],
  "runArgs": ["--init", "-e", "RUST_LOG=debug", "--ulimit", "nofile=20000:20000",
              "--network=host", "--memory=4g", "--cpus", "2", "--shm-size=1g",
              "--hostname=devbox"],
  "init": true,
  "remoteUser": "vscode",
  "frobnicate": 1,
}
"""


def _write(root: Path, text: str, where: str = ".devcontainer/devcontainer.json") -> Path:
    path = root / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _config(root: Path) -> ProjectConfig:
    config: ProjectConfig = read_project_config(root / ".tazpod" / "config.yaml").config
    return config


def _hello_feature(root: Path) -> None:
    folder = root / ".devcontainer" / "local-features" / "hello"
    folder.mkdir(parents=True)
    (folder / "devcontainer-feature.json").write_text(
        '{"id": "hello", "version": "1.0.0", "name": "Hello",\n'
        ' "options": {"greeting": {"type": "string", "default": "hello"},\n'
        '             "loud": {"type": "boolean", "default": false}}}\n'
    )
    (folder / "install.sh").write_text('#!/bin/sh\necho "$GREETING" > /usr/local/hello\n')


# -- JSON with comments -----------------------------------------------------------------------
def test_comments_go_and_text_in_strings_stays(tmp_path: Path) -> None:
    text = '// head\n{ /* a */ "url": "http://x//y", "c": "/* not */", // tail\n "n": -1.5e2 }'
    assert jsonc.parse(text, tmp_path / "f.json") == {
        "url": "http://x//y",
        "c": "/* not */",
        "n": -150.0,
    }


def test_trailing_commas_and_every_value_kind(tmp_path: Path) -> None:
    value = jsonc.parse('{"a": [1, "two", true, null,], "b": {"c": false,},}', tmp_path)
    assert value == {"a": [1, "two", True, None], "b": {"c": False}}


def test_lines_are_kept_for_keys_and_items(tmp_path: Path) -> None:
    value = jsonc.parse('{\n"a": 1,\n\n"b": [\n 1,\n 2]\n}', tmp_path)
    assert isinstance(value, jsonc.JsonObject)
    assert value.lines == {"a": 2, "b": 4}
    assert jsonc.line_of(value["b"], 1) == 6


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', ":3:3:", "',' or '}' expected, found '\"'"),
        ('{"a": "open\n}', ":1:12:", "a control character (a line break, say)"),
        ('{"a": "open', ":1:7:", "a string that never ends"),
        ('{"a": 1} /* open', ":1:10:", "never closed"),
        ('{"a": "\\q"}', ":1:8:", "invalid \\escape"),
        ('{"a": 1} {"b": 2}', ":1:10:", "the end of the file expected"),
        ("", ":1:1:", "a value"),
        ("{'a': 1}", ":1:2:", "a property name in double quotes"),
        ('{"a" 1}', ":1:6:", "':' expected after 'a'"),
        ('{"a": +1}', ":1:7:", "a value"),
    ],
)
def test_malformed_files_name_line_column_and_what_was_expected(
    tmp_path: Path, text: str, position: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        jsonc.parse(text, tmp_path / "devcontainer.json")
    assert f"devcontainer.json{position} malformed JSON" in caught.value.message
    assert expected in caught.value.message


def test_a_repeated_key_warns_and_the_last_counts(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert jsonc.parse('{"a": 1,\n "a": 2}', tmp_path, warnings) == {"a": 2}
    assert warnings and ":2: 'a' is given twice" in warnings[0]


def test_nesting_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nested more than"):
        jsonc.parse("[" * 200, tmp_path)


# -- the import, file by file -----------------------------------------------------------------
def test_an_image_project(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, PYTHON_IMAGE)
    code, out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    assert config.image == "mcr.microsoft.com/devcontainers/python:1-3.12-bullseye"
    assert config.vertical is None and config.build is None and config.user == "vscode"
    assert config.hooks.post_create == (HookCommand("", "pip3 install --user -r requirements.txt"),)
    assert config.forward_ports == (8000,)
    assert config.devcontainer is not None
    assert config.devcontainer.source == ".devcontainer/devcontainer.json"
    assert "needs a registry (ghcr.io); tazpod downloads nothing" in err
    assert ":8: features.ghcr.io/devcontainers/features/common-utils:2:" in err
    assert ":12: customizations: not used: editor settings" in err
    assert "user: vscode" in out and "review the settings" in out


def test_a_dockerfile_build_relative_to_the_project(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, DOCKERFILE_BUILD)
    (in_tmp / ".devcontainer" / "Dockerfile").write_text("FROM debian\n")
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    assert config.build is not None
    assert config.build.dockerfile == ".devcontainer/Dockerfile"
    assert config.build.context == "."
    assert config.build.target == "dev"
    assert dict(config.build.args) == {
        "VARIANT": "bookworm",
        "REINSTALL_CMAKE_VERSION_FROM_SOURCE": "none",
    }
    assert "GITHUB_TOKEN" not in (in_tmp / ".tazpod" / "config.yaml").read_text()
    assert ":9: build.args.GITHUB_TOKEN: uses ${localEnv:GITHUB_TOKEN}: left out" in err
    assert config.image == f"{config.container_name}:devcontainer"
    assert config.environment == {"CC": "gcc", "PROJECT": in_tmp.name}
    assert config.user == "dev"
    assert "containerUser: builder differs from remoteUser dev" in err
    assert "workspaceFolder: tazpod always mounts the project at /workspace" in err
    assert "build.cacheFrom: not used" in err
    assert config.hooks.on_create == (HookCommand("", "cmake -S . -B build"),)
    assert config.hooks.update_content == (HookCommand("", ("cmake", "--build", "build")),)


def test_object_hooks_ports_and_environments(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, NODE_HOOKS)
    code, out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    assert config.hooks.post_create == (
        HookCommand("deps", "npm ci"),
        HookCommand("migrate", ("npm", "run", "db:migrate")),
    )
    assert config.hooks.post_start == (
        HookCommand("", ("npm", "run", "watch", "--prefix", "/workspace")),
    )
    assert config.hooks.post_attach == (HookCommand("", "echo 'welcome // not a comment'"),)
    assert config.forward_ports == (3000, 9229)
    assert "forwardPorts[1]: db:5432: a port of another host (db" in err
    assert "with network: host they are this host's ports already" in out
    assert config.environment == {"NODE_ENV": "development"}  # PATH left out, DROPPED unset
    assert "remoteEnv.PATH: uses ${containerEnv:PATH}: left out" in err
    assert "portsAttributes: not used" in err


def test_features_registry_ones_skipped_local_ones_kept(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, FEATURES)
    _hello_feature(in_tmp)
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    assert [(f.path, f.options) for f in config.devcontainer_features] == [
        (".devcontainer/local-features/hello", (("greeting", "hey"), ("loud", "true"))),
    ]
    assert err.count("needs a registry (ghcr.io)") == 2
    assert "needs a download (a tarball)" in err
    assert "initializeCommand: not used: it runs on the host" in err
    assert "mounts[0]: uses ${env:HOME}: left out" in err and config.mounts == ()


def test_mounts_and_the_safe_run_args(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, MOUNTS_RUN_ARGS)
    code, out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    config = _config(in_tmp)
    mounts = [(m.type, m.source, m.target, m.read_only) for m in config.mounts]
    assert mounts == [
        ("bind", ".cache", "/home/vscode/.cache", False),
        ("volume", f"cargo-{config.container_name}", "/usr/local/cargo", False),
        ("volume", "target-cache", "/workspaces-target", False),
        ("bind", "docs", "/srv/docs", True),
    ]
    assert config.environment == {"RUST_LOG": "debug"}
    assert config.ulimits == ("nofile=20000:20000",) and config.network == "host"
    assert (config.memory, config.cpus, config.shm_size) == ("4g", "2", "1g")
    assert config.hostname == "devbox"
    assert "--init: tazpod's container always runs an init" in out
    assert ":15: frobnicate: unknown property (ignored)" in err
    assert "init:" not in err  # tazpod's container has one anyway


def test_other_known_properties_warn_with_the_reason(in_tmp: Path, cli: Cli) -> None:
    text = PYTHON_IMAGE.replace(
        '"remoteUser": "vscode"',
        '"remoteUser": "vscode", "shutdownAction": "none", "overrideCommand": false,'
        ' "hostRequirements": {"cpus": 4}, "waitFor": "onCreateCommand",'
        ' "userEnvProbe": "loginShell", "updateRemoteUserUID": false, "appPort": [8080],'
        ' "otherPortsAttributes": {}, "secrets": {"TOKEN": {}}, "workspaceMount": "x"',
    )
    _write(in_tmp, text)
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    for name in (
        "shutdownAction",
        "overrideCommand",
        "hostRequirements",
        "waitFor",
        "userEnvProbe",
        "updateRemoteUserUID",
        "appPort",
        "otherPortsAttributes",
        "secrets",
        "workspaceMount",
    ):
        assert f": {name}: " in err, name


# -- what is refused ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--privileged"], "root on the host"),
        (["--cap-add=SYS_PTRACE"], "adds capabilities tazpod keeps out"),
        (["--security-opt", "seccomp=unconfined"], "seccomp profile"),
        (["--device=/dev/fuse"], "a device of the host's"),
        (["--device-cgroup-rule", "c 10:* rmw"], "devices of the host's"),
        (["--pid=host"], "shares a namespace of the host's"),
        (["--ipc", "host"], "shares a namespace of the host's"),
        (["--userns=host"], "shares a namespace of the host's"),
        (["-v", "/var/run/docker.sock:/var/run/docker.sock"], "use `mounts` instead"),
        (["--mount", "type=bind,src=/,dst=/host"], "use `mounts` instead"),
        (["--user=root"], "set remoteUser"),
        (["--group-add", "docker"], "docker group"),
        (["--sysctl", "net.ipv4.ip_forward=1"], "kernel parameters"),
        (["-p", "8080:80"], "forwardPorts"),
        (["--network=bridge"], "never makes bridge networks"),
        (["--env-file", ".devcontainer/devcontainer.env"], "may hold secrets"),
        (["-e", "GITHUB_TOKEN"], "from the host's environment"),
        (["--add-host", "host.docker.internal:host-gateway"], "not in tazpod's safe subset"),
        (["-e", "LD_PRELOAD=/workspace/x.so"], "root's included"),
    ],
)
def test_run_args_outside_the_safe_subset_are_not_applied_with_the_reason(
    in_tmp: Path, cli: Cli, args: list[str], reason: str
) -> None:
    quoted = ", ".join(f'"{arg}"' for arg in args)
    _write(in_tmp, f'{{"image": "debian",\n "remoteUser": "dev",\n "runArgs": [{quoted}]}}')
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == 0, err
    assert "devcontainer.json:3: runArgs: not applied:" in err and reason in err
    config = (in_tmp / ".tazpod" / "config.yaml").read_text()
    for arg in args:  # nothing of it reached the settings (plain words are the template's)
        if len(arg) > 3 and (arg.startswith("--") or any(mark in arg for mark in "=/:")):
            assert arg not in config, arg


@pytest.mark.parametrize(
    ("mount", "reason"),
    [
        ("source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind", "is a socket"),
        ("source=/run/user/1000/podman/podman.sock,target=/s,type=bind", "is a socket"),
        ("source=/,target=/host,type=bind", "shared by the whole host"),
        ("source=/etc,target=/host-etc,type=bind,readonly", "reaches /etc"),
        ("source=/var/lib,target=/x,type=bind", "reaches /var/lib/docker"),
        ("source=/tmp,target=/x,type=bind", "shared by the whole host"),
        ("source=${localWorkspaceFolder}/.cache,target=/workspace/x,type=bind", "workspace"),
        ("source=cache,target=/home/dev/secrets,type=volume", "the vault's mount point"),
        ("source=cache,target=/home/dev,type=volume", "the vault's mount point"),
        ("source=cache,target=/home/dev/.infisical,type=volume", "a vault bridge"),
        ("source=tools,target=/usr/local/bin,type=volume", "covers /usr"),
        ("source=tools,target=/opt/tazpod,type=volume", "covers /opt/tazpod"),
        ("source=x,target=/x,type=tmpfs", "no tmpfs"),
        ("source=relative/dir,target=/x,type=bind", "absolute path"),
        ("source=tools,target=/usr/local,type=volume", "covers /usr/local/bin"),
        ("source=tools,target=/usr/lib/x86_64-linux-gnu,type=volume", "covers /usr/lib"),
        ("source=../up,target=/x,type=volume", "not a volume name"),
        ("target=/x,type=volume", "anonymous volume"),
        ("source=x,target=/x,type=bind,bind-propagation=shared", "bind-propagation"),
    ],
)
def test_mounts_that_reach_the_host_or_tazpods_places_are_refused(
    in_tmp: Path, cli: Cli, mount: str, reason: str
) -> None:
    _write(in_tmp, f'{{"image": "debian", "remoteUser": "dev",\n "mounts": ["{mount}"]}}')
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == ExitCode.CONFIG, err
    assert "devcontainer.json:2: mounts[0]:" in err and reason in err


def test_everything_refused_is_listed_at_once(in_tmp: Path, cli: Cli) -> None:
    _write(
        in_tmp,
        '{"image": "debian",\n "privileged": true,\n "capAdd": ["SYS_PTRACE"],\n'
        ' "securityOpt": ["seccomp=unconfined"],\n "remoteUser": "root",\n'
        ' "containerEnv": {"TAZPOD_GHOST_MODE": "true", "PATH": "/workspace/bin:/usr/bin"}}',
    )
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == ExitCode.CONFIG
    assert ":2: privileged" not in err and ":3: capAdd" not in err  # warnings, not errors
    for line, what in (
        (5, "remoteUser: must be an unprivileged user"),
        (6, "containerEnv.TAZPOD_GHOST_MODE: TAZPOD_GHOST_MODE is tazpod's own"),
        (6, "containerEnv.PATH: PATH names '/workspace/bin'"),
    ):
        assert f"devcontainer.json:{line}: {what}" in err, what


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"image": "${localEnv:IMAGE}"}', ":1: image: uses ${localEnv:IMAGE}"),
        (
            '{"build": {"dockerfile": "${localEnv:DF}"}}',
            ":1: build.dockerfile: uses ${localEnv:DF}",
        ),
        (
            '{"build": {"dockerfile": "D", "args": {"bad-name": "x"}}}',
            ":1: build.args.bad-name: is not a build argument",
        ),
        (
            '{"build": {"dockerfile": "../../D"}}',
            ":1: build.dockerfile: ../../D leaves the project",
        ),
        ('{"image": "i", "remoteUser": "${localEnv:USER}"}', ":1: remoteUser: uses"),
    ],
)
def test_what_the_image_and_user_cannot_do_without_is_refused(
    in_tmp: Path, cli: Cli, text: str, expected: str
) -> None:
    _write(in_tmp, text)
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == ExitCode.CONFIG and expected in err, err


def test_compose_projects_are_an_error(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, '{\n  "dockerComposeFile": "docker-compose.yml",\n  "service": "app"\n}')
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == ExitCode.CONFIG
    assert ":2: dockerComposeFile: Docker Compose projects are not supported" in err


def test_a_named_file_and_several_configurations(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, PYTHON_IMAGE, ".devcontainer/python/devcontainer.json")
    _write(in_tmp, NODE_HOOKS, ".devcontainer/node/devcontainer.json")
    code, _out, err = cli("init", "--from-devcontainer")
    assert code == ExitCode.CONFIG and "several devcontainer.json files" in err
    assert "tazpod init --from-devcontainer .devcontainer/node/devcontainer.json" in err
    code, _out, err = cli("init", "--from-devcontainer", ".devcontainer/node/devcontainer.json")
    assert code == 0, err
    assert _config(in_tmp).user == "node"


def test_a_root_level_devcontainer_json(in_tmp: Path, cli: Cli) -> None:
    _write(in_tmp, PYTHON_IMAGE, ".devcontainer.json")
    assert cli("init", "--from-devcontainer")[0] == 0
    assert _config(in_tmp).devcontainer.source == ".devcontainer.json"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path",
    ["/usr/bin/../../workspace/bin:/bin", "/run/lock:/bin", "/var/lock", "/bin:/var/mail/x"],
)
def test_a_path_entry_is_judged_as_the_kernel_walks_it(path: str) -> None:
    """Attack review 2, F2: `..` and the world-writable lock and mail directories."""
    from tazpod.project import validate

    with pytest.raises(ValueError, match="which sessions in the container can write"):
        validate.env_value("PATH", path)
