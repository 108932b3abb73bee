"""devcontainer.json's properties that map one to one onto config.yaml's keys (or are
refused): one handler each, called with the import's state and the property's name."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from tazpod.project.devcontainer_json import features, lifecycle, mounts, run_args
from tazpod.project.devcontainer_json.state import Context
from tazpod.project.devcontainer_json.variables import Unresolved

Handler = Callable[[Context, str], None]
_PORT_RE = re.compile(r"^([a-z0-9-]+):(\d{1,5})$")  # the schema's "host:port"
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _mounts(context: Context, key: str) -> None:
    value = context.data[key]
    if not isinstance(value, list):
        context.refuse(key, "must be an array of mounts")
        return
    out = []
    for index, item in enumerate(value):
        try:
            out.append(mounts.entry(item, context.variables, context.root, context.places))
        except Unresolved as err:
            context.warn(
                key,
                f"uses {err.variable}: left out (a path of the host's"
                " environment; config.yaml keeps nothing of it)",
                index,
            )
        except ValueError as err:
            context.refuse(key, str(err), index)
    if out:
        context.out.settings["mounts"] = out
        context.out.notes += [f"mount: {m['source']} -> {m['target']} ({m['type']})" for m in out]


def _forward_ports(context: Context, key: str) -> None:
    value = context.data[key]
    if not isinstance(value, list):
        context.refuse(key, "must be an array of ports")
        return
    ports: list[int] = []
    for index, item in enumerate(value):
        match = _PORT_RE.match(item) if isinstance(item, str) else None
        if match and match.group(1) not in _LOCAL_HOSTS:
            context.warn(
                key,
                f"{item}: a port of another host ({match.group(1)}, a Compose"
                " service's); tazpod runs one container: skipped",
                index,
            )
            continue
        port = int(match.group(2)) if match else item
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            context.refuse(key, f'{item!r} is not a port (1 to 65535, or "host:port")', index)
        elif port not in ports:
            ports.append(port)
    if ports:
        context.out.settings["forward_ports"] = ports
        context.out.notes.append(
            f"forward_ports: {', '.join(map(str, ports))} (with network: host they are this"
            " host's ports already; `tazpod ssh-config` forwards them otherwise)"
        )


def _hook(context: Context, key: str) -> None:
    try:
        value = lifecycle.hook(
            context.data[key], context.variables, context.out.warnings, context.where(key)
        )
    except ValueError as err:
        context.refuse(key, str(err))
        return
    if value is not None:
        context.out.settings.setdefault("hooks", {})[lifecycle.HOOKS[key]] = value
        context.out.notes.append(f"hook {key}: {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{name}: {_shown(command)}" for name, command in value.items())
    return value if isinstance(value, str) else shlex.join(value)


def _run_args(context: Context, key: str) -> None:
    value = context.data[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        context.refuse(key, "must be an array of strings")
        return
    try:
        resolved = [context.variables.resolve(item) for item in value]
    except Unresolved as err:
        context.refuse(
            key, f"uses {err.variable}: config.yaml keeps nothing of the host's environment"
        )
        return
    options = run_args.parse(resolved)
    for refused in options.refused:
        context.drop(key, refused)
    context.run_env.update(options.environment)
    if options.ulimits:
        context.out.settings["ulimits"] = options.ulimits
        context.out.notes.append(f"ulimits: {', '.join(options.ulimits)}")
    context.out.settings.update(options.settings)
    context.out.notes += [f"runArgs {note}" for note in options.notes]
    context.out.notes += [f"{name}: {text}" for name, text in options.settings.items()]
    if "hostname" in options.settings and options.settings.get("network") != "none":
        context.warn(
            key,
            "--hostname: set only with network none (with the host's network"
            " the container has the host's name)",
        )


def _features(context: Context, key: str) -> None:
    value = context.data[key]
    if not isinstance(value, dict):
        context.refuse(key, "must be an object (feature: options)")
        return
    local = []
    for feature_id, options in value.items():
        if feature_id.startswith(("./", "../")):
            try:
                local.append(
                    features.local(feature_id, options, context.source.folder, context.root)
                )
            except ValueError as err:
                context.refuse(key, str(err), feature_id)
        elif feature_id.startswith(("https://", "http://")):
            context.warn(
                key,
                "needs a download (a tarball); tazpod downloads nothing into"
                " the image it did not verify: skipped",
                feature_id,
            )
        else:
            context.warn(
                key,
                f"needs a registry ({features.registry_of(feature_id)}); tazpod"
                " downloads nothing into the image it did not verify: skipped"
                " (install it in the Dockerfile, or copy it into .devcontainer/ as a"
                " local Feature)",
                feature_id,
            )
    if local:
        context.out.settings["devcontainer_features"] = local
        context.out.notes += [f"feature: {entry['path']}" for entry in local]


def _privileged(context: Context, key: str) -> None:
    if context.data[key] is True:
        context.drop(key, run_args.REASONS["--privileged"])


def _list_refused(reason: str) -> Handler:
    def handle(context: Context, key: str) -> None:
        if context.data[key]:
            context.drop(key, f"{context.data[key]}: {reason}")

    return handle


def _workspace(context: Context, key: str) -> None:
    value = context.data[key]
    if key == "workspaceFolder" and value in ("/workspace", "${containerWorkspaceFolder}"):
        return
    context.warn(
        key,
        "tazpod always mounts the project at /workspace (hooks run there);"
        " commands that name another place need changing",
    )


HANDLERS: dict[str, Handler] = {
    "mounts": _mounts,
    "forwardPorts": _forward_ports,
    "runArgs": _run_args,
    "features": _features,
    "privileged": _privileged,
    "capAdd": _list_refused(run_args.REASONS["--cap-add"]),
    "securityOpt": _list_refused(run_args.REASONS["--security-opt"]),
    "workspaceFolder": _workspace,
    "workspaceMount": _workspace,
    **{name: _hook for name in lifecycle.HOOKS},
}
