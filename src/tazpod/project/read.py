"""Reading `.tazpod/config.yaml` into a ProjectConfig, section by section.

A TazPod file (`version: 1.0`, `image`, `container_name`, `user`, `features`,
`build: {dockerfile, context}`) loads unchanged; tazpod's own keys (`vertical`,
`engine`, `network`, `vault`, ...) are optional with safe defaults. The first
problem is a ConfigError naming file, line and key; unknown keys are warnings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tazpod.errors import ConfigError
from tazpod.project import durations, validate
from tazpod.project.read_container import container_settings
from tazpod.project.schema import (
    BACKENDS,
    DEFAULT_BRIDGES,
    DEFAULT_KDF_MEMORY_MIB,
    DEFAULT_KDF_TIME_MS,
    DEFAULT_SIZE_MIB,
    ENGINES,
    NETWORKS,
    PULL_POLICIES,
    BuildConfig,
    Features,
    KubernetesConfig,
    Loaded,
    ProjectConfig,
    VaultConfig,
)
from tazpod.project.verticals import DEFAULT_VERTICAL, VERTICALS, vertical_image
from tazpod.project.yamldoc import MapReader, parse_yaml


def _bridges(reader: MapReader) -> tuple[str, ...]:
    if not reader.has("bridges"):
        reader.seen.add("bridges")
        return DEFAULT_BRIDGES
    out: list[str] = []
    for _index, item, line in reader.sequence("bridges"):
        where = reader.where("bridges", line)
        if not isinstance(item, str) or not item.startswith("~/") or len(item) <= 2:
            raise ConfigError(
                f"{where}: {item!r} is not a bridge; bridges are directories under the"
                " home directory written as ~/NAME",
                hint="e.g. ~/.aws or ~/.kube",
            )
        if ".." in Path(item).parts:
            raise ConfigError(f"{where}: {item!r} must not contain '..'")
        if item in out:
            raise ConfigError(f"{where}: {item!r} is listed twice")
        out.append(item.rstrip("/"))
    return tuple(out)


def _ulimits(reader: MapReader) -> tuple[str, ...]:
    out = []
    for _index, item, line in reader.sequence("ulimits"):
        text = str(item)
        if not re.match(r"^[a-z]+=\d+(:\d+)?$", text):
            raise ConfigError(
                f"{reader.where('ulimits', line)}: {text!r} is not NAME=SOFT[:HARD]",
                hint="e.g. nofile=20000:20000",
            )
        out.append(text)
    return tuple(out)


def _read_vault(reader: MapReader) -> VaultConfig:
    backend = reader.converted("backend", "ram", validate.one_of(BACKENDS))
    size = reader.converted("size", DEFAULT_SIZE_MIB[backend], validate.parse_size_mib)
    mount_point = reader.converted("mount_point", None, validate.mount_point)
    bridges = _bridges(reader)
    kdf_time = reader.converted("kdf_time_ms", DEFAULT_KDF_TIME_MS, validate.kdf_time_ms)
    kdf_memory = reader.converted("kdf_memory_mib", DEFAULT_KDF_MEMORY_MIB, validate.kdf_memory_mib)
    idle_lock = reader.converted("idle_lock", None, durations.parse)
    max_open = reader.converted("max_open", None, durations.parse)
    reader.finish()
    return VaultConfig(
        backend, size, mount_point, bridges, kdf_time, kdf_memory, idle_lock, max_open
    )


def _string_map(reader: MapReader, key: str) -> dict[str, str]:
    inner = reader.mapping(key)
    out = {str(k): inner.string(str(k), "") for k in inner.data}
    inner.finish()
    return out


def _resources(reader: MapReader) -> dict[str, dict[str, str]]:
    inner = reader.mapping("resources")
    out: dict[str, dict[str, str]] = {}
    for kind in ("requests", "limits"):
        amounts = inner.mapping(kind)
        values = {}
        for name in amounts.data:
            if str(name) not in ("cpu", "memory", "ephemeral-storage"):
                raise amounts.error(
                    str(name), "is not a resource tazpod sets (cpu, memory, ephemeral-storage)"
                )
            values[str(name)] = amounts.converted(str(name), "", validate.quantity)
        amounts.finish()
        if values:
            out[kind] = values
    inner.finish()
    return out


def _tolerations(reader: MapReader) -> tuple[dict[str, Any], ...]:
    out = []
    for _index, item, line in reader.sequence("tolerations"):
        toleration = MapReader(
            item, reader.path, "kubernetes.tolerations[].", line, reader.warnings
        )
        entry: dict[str, Any] = {}
        for key in ("key", "operator", "value", "effect"):
            if toleration.has(key):
                entry[key] = toleration.string(key, "")
        if toleration.has("toleration_seconds"):
            entry["toleration_seconds"] = toleration.converted("toleration_seconds", 0, int)
        toleration.finish()
        out.append(entry)
    return tuple(out)


def _read_kubernetes(reader: MapReader) -> KubernetesConfig:
    context = reader.string("context", "") or None
    namespace = reader.converted("namespace", None, validate.k8s_name)
    storage_class = reader.converted("storage_class", None, validate.k8s_name)
    size = reader.converted("size", "10Gi", validate.quantity)
    policy = reader.converted("image_pull_policy", "IfNotPresent", validate.one_of(PULL_POLICIES))
    account = reader.converted("service_account", None, validate.k8s_name)
    profile = reader.converted("seccomp_profile", None, validate.relative_file)
    settings = KubernetesConfig(
        context,
        namespace,
        storage_class,
        size,
        policy,
        _resources(reader),
        _string_map(reader, "node_selector"),
        _tolerations(reader),
        account,
        profile,
    )
    reader.finish()
    return settings


def _build_args(reader: MapReader) -> tuple[tuple[str, str], ...]:
    args = reader.mapping("args")
    out = []
    for key in args.data:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
            raise args.error(str(key), "is not a valid build argument name")
        out.append((str(key), args.string(str(key), "")))
    args.finish()
    return tuple(out)


def _read_build(reader: MapReader, vertical: str | None) -> BuildConfig | None:
    if not reader.data:
        reader.finish()
        return None
    if not reader.has("dockerfile") and vertical is None:
        raise ConfigError(
            f"{reader.path}:{reader.line}: build.dockerfile is missing",
            hint="name the Dockerfile, e.g. dockerfile: .tazpod/Dockerfile",
        )
    dockerfile = reader.string("dockerfile", "") or None
    context, target = reader.string("context", "."), reader.string("target", "") or None
    build = BuildConfig(dockerfile, context, _build_args(reader), target)
    reader.finish()
    return build


def _read_features(reader: MapReader) -> Features:
    features = Features(reader.boolean("ghost_mode", True), reader.boolean("debug", False))
    reader.finish()
    return features


def read_project_config(path: Path) -> Loaded:
    """Load and validate a config.yaml; raise ConfigError on the first problem."""
    top = MapReader(parse_yaml(path), path)
    vertical = top.converted("vertical", None, validate.one_of(VERTICALS))
    if not top.has("image") and vertical is None:
        raise ConfigError(
            f"{path}: image is missing",
            hint=f"set image: NAME or vertical: one of {', '.join(VERTICALS)}",
        )
    image = top.string("image", vertical_image(vertical or DEFAULT_VERTICAL))
    if not top.has("container_name"):
        raise ConfigError(
            f"{path}: container_name is missing",
            hint="add container_name: tazpod-NAME-1234567, or run `tazpod init --force`",
        )
    features = _read_features(top.mapping("features"))
    user = top.converted("user", "tazpod", validate.user_name)
    vault = _read_vault(top.mapping("vault"))
    config = ProjectConfig(
        version=top.string("version", "1"),
        vertical=vertical,
        image=image,
        container_name=top.converted("container_name", "", validate.container_name),
        user=user,
        engine=top.converted("engine", "docker", validate.one_of(ENGINES)),
        network=top.converted("network", "host", validate.one_of(NETWORKS)),
        privileged=top.boolean("privileged", False),
        ulimits=_ulimits(top),
        x11=top.boolean("x11", False),
        ssh_agent=top.boolean("ssh_agent", False),
        features=features,
        vault=vault,
        kubernetes=_read_kubernetes(top.mapping("kubernetes")),
        build=_read_build(top.mapping("build"), vertical),
        **container_settings(top, user, vault),
    )
    top.finish()
    return Loaded(config, tuple(top.warnings))
