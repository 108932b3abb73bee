"""devcontainer.json -> the settings of `.tazpod/config.yaml`.

``translate`` reads every property the spec defines (devcontainers/spec,
devContainer.base.schema.json) and returns config.yaml's keys, with warnings for what
tazpod does not do (each naming the property and why) and notes for the summary. What
would widen the container's privileges or reach the host is refused: all of it in one
ConfigError naming file, line and property, so that one edit fixes everything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tazpod.errors import ConfigError
from tazpod.project import validate
from tazpod.project.devcontainer_json import jsonc
from tazpod.project.devcontainer_json.properties import HANDLERS
from tazpod.project.devcontainer_json.source import INIT_HINT, Source
from tazpod.project.devcontainer_json.state import Context, Imported
from tazpod.project.devcontainer_json.variables import Unresolved, Variables
from tazpod.project.read_container import places
from tazpod.project.schema import VaultConfig

# Known properties tazpod does not use, and why (the spec's, and VS Code's older ones).
UNUSED = {
    "$schema": None,  # (editors' schema validation: nothing to say)
    "name": "tazpod names the container itself (container_name)",
    "customizations": "editor settings: tazpod has no editor of its own",
    "extensions": "editor settings: tazpod has no editor of its own",
    "settings": "editor settings: tazpod has no editor of its own",
    "hostRequirements": "tazpod checks no host requirements",
    "shutdownAction": "the container runs until `tazpod down`",
    "overrideCommand": "tazpod always chooses the container's first process",
    "portsAttributes": "tazpod forwards no ports itself (see forwardPorts)",
    "otherPortsAttributes": "tazpod forwards no ports itself (see forwardPorts)",
    "appPort": "the container uses the host's network (or none): nothing to publish",
    "initializeCommand": "it runs on the host; tazpod never runs a project's command there",
    "waitFor": "`tazpod up` runs every hook before it returns",
    "userEnvProbe": "sessions start the user's own login shell",
    "updateRemoteUserUID": "tazpod checks instead that the container's user owns the"
    " workspace, and says how to make it so",
    "overrideFeatureInstallOrder": "local Features are installed in the order written",
    "secrets": "tazpod keeps secrets in its vault (secrets.yml), never in the container",
    "init": None,  # (tazpod's container always has an init)
}
COMPOSE = ("dockerComposeFile", "service", "runServices")
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Read below, by translate itself (they depend on each other).
_OWN = (
    *("image", "build", "dockerFile", "dockerfile", "context"),
    *("containerEnv", "remoteEnv", "containerUser", "remoteUser"),
)


def _why(err: Unresolved) -> str:
    if err.variable.startswith("${containerEnv"):
        return (
            "the container's environment is not known before it runs; give the whole value,"
            " or extend it in the Dockerfile (ENV PATH=...)"
        )
    return "config.yaml is committed and keeps nothing of the host's environment; give the value"


def translate(
    source: Source, root: Path, container_name: str, user: str, vault: VaultConfig
) -> Imported:
    """The settings ``source`` gives; ConfigError listing everything refused.

    ``user`` and ``vault``: config.yaml's (or the defaults), for what the file leaves out.
    """
    out = Imported(source)
    data = jsonc.parse(source.text, source.path, out.warnings)
    if not isinstance(data, jsonc.JsonObject):
        raise ConfigError(f"{source.path}: a devcontainer.json is an object ({{...}})")
    _refuse_compose(source, data)
    context = Context(data, source, root, Variables(str(root), container_name), out)
    _user(context)
    context.places = places(out.settings.get("user", user), vault)
    for key in data:
        if key in HANDLERS:
            HANDLERS[key](context, key)
        elif key in UNUSED:
            if UNUSED[key] is not None:
                context.warn(key, f"not used: {UNUSED[key]}")
        elif key not in _OWN:
            context.warn(key, "unknown property (ignored)")
    _image_or_build(context)
    _environment(context)
    if out.refused:
        raise ConfigError(
            f"{source.path}: tazpod does not do what these settings ask:\n  "
            + "\n  ".join(out.refused),
            hint=f"remove them from {source.relative} (tazpod builds its own least-privilege"
            f' container: README, "devcontainer.json projects"), then run `{INIT_HINT}`'
            " again",
        )
    out.settings["devcontainer"] = {"source": source.relative, "sha256": source.sha256}
    out.warnings.sort(key=_line_of_message)  # in the file's order
    return out


def _line_of_message(message: str) -> int:
    _path, _, rest = message.partition(".json:")
    number = rest.split(":", 1)[0]
    return int(number) if number.isdigit() else 0


def _refuse_compose(source: Source, data: jsonc.JsonObject) -> None:
    for key in COMPOSE:
        if key in data:
            raise ConfigError(
                f"{source.path}:{data.lines[key]}: {key}: Docker Compose projects are not"
                " supported (tazpod runs one container per project)",
                hint="name the service's image or Dockerfile in devcontainer.json (image, or"
                " build.dockerfile) instead",
            )


def _relative(context: Context, key: str, value: Any, inner: str | None) -> str | None:
    """A path of the file's (relative to its folder) as one relative to the project."""
    if not isinstance(value, str) or not value:
        context.refuse(key, "must be a path (a string)", inner)
        return None
    resolved = context.resolved(key, value, inner)
    if resolved is None:
        return None
    path = (context.source.folder / resolved).resolve()
    root = context.root.resolve()
    if path != root and root not in path.parents:
        context.refuse(key, f"{value} leaves the project {context.root}", inner)
        return None
    return str(path.relative_to(root)) if path != root else "."


def _image_or_build(context: Context) -> None:
    data, settings = context.data, context.out.settings
    given = data.get("build")
    build: dict[str, Any] = given if isinstance(given, dict) else {}
    if "build" in data and not isinstance(data["build"], dict):
        context.refuse("build", "must be an object (dockerfile, context, args, target)")
    legacy = "dockerFile" if "dockerFile" in data else "dockerfile"
    dockerfile = build.get("dockerfile") or data.get(legacy)
    if dockerfile is None:
        image = data.get("image")
        if not isinstance(image, str) or not image:
            raise ConfigError(
                f"{context.source.path}: neither image nor build.dockerfile is given",
                hint="a devcontainer.json names an image, or a Dockerfile under build",
            )
        resolved = context.resolved("image", image)
        if resolved is not None:
            settings["image"] = resolved
            context.out.notes.append(f"image: {resolved}")
        return
    if "image" in data:
        context.warn("image", "not used: build.dockerfile builds the image")
    in_build = "dockerfile" in build
    path = _relative(
        context, "build" if in_build else legacy, dockerfile, "dockerfile" if in_build else None
    )
    folder = build.get("context", data.get("context", "."))
    directory = _relative(
        context,
        "build" if "context" in build else "context",
        folder,
        "context" if "context" in build else None,
    )
    section: dict[str, Any] = {"dockerfile": path, "context": directory}
    args = _build_args(context, build.get("args") or {})
    if args:
        section["args"] = args
    target = build.get("target")
    if isinstance(target, str) and target:
        section["target"] = context.resolved("build", target, "target")
    for unused in ("options", "cacheFrom"):
        if unused in build:
            context.warn("build", "not used: tazpod builds through the engine's API", unused)
    settings["image"] = f"{context.variables.container_id}:devcontainer".lower()
    settings["build"] = section
    context.out.notes.append(f"build: {path} (context {directory}) as {settings['image']}")


def _build_args(context: Context, args: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(args, dict):
        context.refuse("build", "must be an object (NAME: value)", "args")
        return out
    for name, value in args.items():
        if not _ARG_NAME.match(name) or isinstance(value, dict | list):
            context.refuse("build", "is not a build argument (NAME: value)", f"args.{name}")
            continue
        try:
            out[name] = context.variables.resolve(str(value))
        except Unresolved as err:
            context.warn("build", f"uses {err.variable}: left out ({_why(err)})", f"args.{name}")
    return out


def _user(context: Context) -> None:
    remote, container = context.data.get("remoteUser"), context.data.get("containerUser")
    chosen = remote or container
    if chosen is None:
        context.out.warnings.append(
            f"{context.source.path}: neither remoteUser nor containerUser is given: sessions"
            " run as config.yaml's `user` (tazpod's images' is tazpod); set remoteUser to"
            " the image's unprivileged user (the mcr.microsoft.com/devcontainers images':"
            " vscode)"
        )
        return
    key = "remoteUser" if remote else "containerUser"
    if remote and container and remote != container:
        context.warn(
            "containerUser",
            f"{container} differs from remoteUser {remote}: tazpod runs the container's first"
            f" process as root (to build the enclave) and every session as {remote}",
        )
    name = context.resolved(key, str(chosen))
    if name is None:
        return
    try:
        validate.user_name(name)
    except ValueError as err:
        context.refuse(key, f"{err} (the enclave's isolation rests on an unprivileged user)")
        return
    context.out.settings["user"] = name
    context.out.notes.append(f"user: {name}")


def _environment(context: Context) -> None:
    env: dict[str, str] = {}
    origin: dict[str, str] = {}
    for key in ("containerEnv", "remoteEnv"):
        values = context.data.get(key, {})
        if not isinstance(values, dict):
            context.refuse(key, "must be an object (NAME: value)")
            values = {}
        for name, value in values.items():
            if value is None and key == "remoteEnv":
                env.pop(name, None)  # (the spec: null unsets it)
                continue
            if value is None or isinstance(value, dict | list):
                context.refuse(key, "must be a string", name)
                continue
            try:
                env[name], origin[name] = context.variables.resolve(str(value)), key
            except Unresolved as err:
                context.warn(key, f"uses {err.variable}: left out ({_why(err)})", name)
        if key == "containerEnv":  # runArgs' -e come after containerEnv, before remoteEnv
            env.update(context.run_env)
            origin.update({name: "runArgs" for name in context.run_env})
    for name, value in list(env.items()):
        try:
            validate.env_name(name)
            validate.env_value(name, value)
        except ValueError as err:
            inner = name if origin[name] != "runArgs" else None
            context.refuse(origin[name], str(err), inner)
            del env[name]
    if env:
        context.out.settings["environment"] = env
        context.out.notes.append(f"environment: {', '.join(env)}")
    if context.data.get("remoteEnv"):
        context.out.notes.append(
            "remoteEnv: set for every process of the container (tazpod has no per-session"
            " environment)"
        )
