"""Reading config.yaml's container settings that a devcontainer.json brings (or the user
writes): `environment`, `mounts`, `forward_ports`, `hooks`, `memory`, `cpus`,
`shm_size`, `hostname`, `devcontainer` and `devcontainer_features`.

The same checks as the import's (tazpod.project.validate, tazpod.project.mount_rules):
config.yaml is in the workspace, and what the import refused must not come in by hand
either. Problems are ConfigErrors naming file, line and key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tazpod.project import mount_rules, validate
from tazpod.project.paths import expand_home
from tazpod.project.schema import (
    HOOK_STAGES,
    MOUNT_TYPES,
    DevcontainerSource,
    HookCommand,
    Hooks,
    LocalFeature,
    MountConfig,
    VaultConfig,
)
from tazpod.project.yamldoc import MapReader, type_name

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_OPTION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def container_settings(top: MapReader, user: str, vault: VaultConfig) -> dict[str, Any]:
    """ProjectConfig's fields for these keys, read from the top of config.yaml."""
    return {
        "environment": _environment(top),
        "mounts": _mounts(top, places(user, vault)),
        "forward_ports": tuple(top.converted("forward_ports", [], _ports)),
        "hooks": _hooks(top.mapping("hooks")),
        "memory": top.converted("memory", None, validate.byte_size),
        "cpus": top.converted("cpus", None, validate.cpus),
        "shm_size": top.converted("shm_size", None, validate.byte_size),
        "hostname": top.converted("hostname", None, validate.hostname),
        "devcontainer": _source(top),
        "devcontainer_features": _features(top),
    }


def places(user: str, vault: VaultConfig) -> tuple[tuple[str, str], ...]:
    """What tazpod itself puts in the container's home: no mount may cover it."""
    home = Path(f"/home/{user}")
    found = [("the vault's mount point", str(expand_home(vault.mount_point or "~/secrets", home)))]
    found += [("a vault bridge", str(expand_home(bridge, home))) for bridge in vault.bridges]
    return tuple(found)


def _environment(top: MapReader) -> dict[str, str]:
    inner = top.mapping("environment")
    out = {}
    for key in inner.data:
        name = str(key)
        try:
            validate.env_name(name)
            out[name] = validate.env_value(name, inner.data[key])
        except ValueError as err:
            raise inner.error(name, str(err)) from err
        inner.seen.add(name)
    inner.finish()
    return out


def _mounts(top: MapReader, held: tuple[tuple[str, str], ...]) -> tuple[MountConfig, ...]:
    out = []
    for _index, item, line in top.sequence("mounts"):
        entry = MapReader(item, top.path, "mounts[].", line, top.warnings)
        kind = entry.converted("type", "bind", validate.one_of(MOUNT_TYPES))
        source = entry.string("source", "")
        target = entry.string("target", "")
        try:
            source = (
                mount_rules.volume_name(source)
                if kind == "volume"
                else mount_rules.check_source(source)
            )
        except ValueError as err:
            raise entry.error("source", str(err), hint=_MOUNT_HINT) from err
        try:
            target = mount_rules.check_target(target, held)
        except ValueError as err:
            raise entry.error("target", str(err), hint=_MOUNT_HINT) from err
        out.append(MountConfig(target, source, kind, entry.boolean("read_only", False)))
        entry.finish()
    return tuple(out)


_MOUNT_HINT = "remove this mount, or mount a directory of the project's or a cache of your own"


def _ports(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of port numbers, not {type_name(value)}")
    return [validate.port(item) for item in value]


def _command(reader: MapReader, key: str, value: Any) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        )
    ):
        return tuple(str(item) for item in value)
    raise reader.error(
        key,
        f"must be a command: a string (run by /bin/sh -c) or a list of the program and its"
        f" arguments, not {type_name(value)}",
    )


def _stage(hooks: MapReader, stage: str) -> tuple[HookCommand, ...]:
    value = hooks.data.get(stage)
    hooks.seen.add(stage)
    if value is None or value in ("", [], {}):
        return ()
    if not isinstance(value, dict):
        return (HookCommand("", _command(hooks, stage, value)),)
    named = hooks.mapping(stage)
    out = tuple(
        HookCommand(str(name), _command(named, str(name), named.data[name])) for name in value
    )
    named.seen.update(str(name) for name in value)
    named.finish()
    return out


def _hooks(reader: MapReader) -> Hooks:
    hooks = Hooks(**{stage: _stage(reader, stage) for stage in HOOK_STAGES})
    reader.finish()
    return hooks


def _source(top: MapReader) -> DevcontainerSource | None:
    if not top.has("devcontainer"):
        top.seen.add("devcontainer")
        return None
    inner = top.mapping("devcontainer")
    source = inner.converted("source", "", validate.relative_file)
    digest = inner.string("sha256", "")
    if not source or not _SHA256_RE.match(digest):
        raise inner.error(
            "sha256" if source else "source",
            "must name the imported file and its sha256",
            hint="run `tazpod init --from-devcontainer` to import it again",
        )
    inner.finish()
    return DevcontainerSource(source, digest)


def _features(top: MapReader) -> tuple[LocalFeature, ...]:
    out = []
    for _index, item, line in top.sequence("devcontainer_features"):
        entry = MapReader(item, top.path, "devcontainer_features[].", line, top.warnings)
        path = entry.converted("path", "", validate.relative_file)
        if not path:
            raise entry.error("path", "is missing: the feature's folder in the project")
        options = entry.mapping("options")
        values = []
        for name in options.data:
            value = options.data[name]
            if not _OPTION_RE.match(str(name)) or isinstance(value, dict | list):
                raise options.error(str(name), "is not a feature option (a name and a value)")
            text = str(value).lower() if isinstance(value, bool) else str(value)
            values.append((str(name), text))
            options.seen.add(str(name))
        options.finish()
        entry.finish()
        out.append(LocalFeature(path, tuple(values)))
    return tuple(out)
