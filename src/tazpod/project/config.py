"""`.tazpod/config.yaml`: schema, defaults, validation, TazPod 0.1.3 compatibility.

A TazPod file (`version: 1.0`, `image`, `container_name`, `user`, `features`,
`build: {dockerfile, context}`) loads unchanged; tazpod's own keys (`vertical`,
`engine`, `network`, `vault`, ...) are optional with safe defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tazpod import __version__
from tazpod.errors import ConfigError
from tazpod.project.yamldoc import MapReader, parse_yaml

CONFIG_DIR = ".tazpod"
CONFIG_FILE = "config.yaml"
SECRETS_FILE = "secrets.yml"

VERTICALS: dict[str, str] = {
    "base": "editor, shell tools, git, python, age and cryptsetup",
    "infisical": "base + the Infisical CLI",
    "k8s": "infisical + kubectl, helm, k9s, stern, talosctl",
    "gemini": "k8s + the Gemini CLI (on Node.js 22)",
}
VERTICAL_PARENT: dict[str, str] = {"infisical": "base", "k8s": "infisical", "gemini": "k8s"}
DEFAULT_VERTICAL = "k8s"
BACKENDS = ("ram", "luks")
ENGINES = ("docker", "podman", "kubernetes")
NETWORKS = ("host", "none")
DEFAULT_BRIDGES = ("~/.infisical", "~/infisical-keyring", "~/.gemini")
DEFAULT_SIZE_MIB = {"ram": 64, "luks": 512}
DEFAULT_KDF_TIME_MS = 2000  # cryptsetup's own default --iter-time
DEFAULT_KDF_MEMORY_MIB = 1024  # cryptsetup's own default maximum (it takes at most half the RAM)

_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|[kmgt])?\s*$")
_SIZE_UNIT_MIB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def vertical_image(vertical: str) -> str:
    """The image name tazpod builds for a vertical (locally, from images/)."""
    return f"tazpod-{vertical}:{__version__}"


def vertical_chain(vertical: str) -> list[str]:
    """The verticals an image of ``vertical`` is built on, base first, itself last."""
    chain = [vertical]
    while chain[0] in VERTICAL_PARENT:
        chain.insert(0, VERTICAL_PARENT[chain[0]])
    return chain


@dataclass(frozen=True)
class Features:
    ghost_mode: bool = True
    debug: bool = False


@dataclass(frozen=True)
class BuildConfig:
    dockerfile: str | None  # None: the vertical's own Dockerfile, shipped with tazpod
    context: str = "."
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VaultConfig:
    backend: str = "ram"
    size_mib: int = DEFAULT_SIZE_MIB["ram"]
    mount_point: str | None = None  # None: chosen at run time (see tazpod.project.paths)
    bridges: tuple[str, ...] = DEFAULT_BRIDGES
    kdf_time_ms: int = DEFAULT_KDF_TIME_MS  # luks: cryptsetup --iter-time for new keyslots
    kdf_memory_mib: int = DEFAULT_KDF_MEMORY_MIB  # luks: cryptsetup --pbkdf-memory (its max)


@dataclass(frozen=True)
class KubernetesConfig:
    """`kubernetes:` in config.yaml: where and how the dev pod runs (engine: kubernetes)."""

    context: str | None = None  # kubeconfig context; None: the current one
    namespace: str | None = None  # None: the context's namespace, else "default"
    storage_class: str | None = None  # None: the cluster's default StorageClass
    size: str = "10Gi"  # the workspace PersistentVolumeClaim
    image_pull_policy: str = "IfNotPresent"
    resources: dict[str, dict[str, str]] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    service_account: str | None = None


PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class ProjectConfig:
    image: str
    container_name: str
    version: str = "1"
    vertical: str | None = None
    user: str = "tazpod"
    engine: str = "docker"
    network: str = "host"
    privileged: bool = False
    ulimits: tuple[str, ...] = ()
    x11: bool = False
    features: Features = field(default_factory=Features)
    vault: VaultConfig = field(default_factory=VaultConfig)
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    build: BuildConfig | None = None


@dataclass(frozen=True)
class Loaded:
    """A parsed file plus the warnings it produced."""

    config: Any
    warnings: tuple[str, ...] = ()


def parse_size_mib(value: Any) -> int:
    """`64`, `64M`, `64MiB`, `1G` -> MiB. Plain numbers are MiB."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as 64M or 1G, not a boolean")
    if isinstance(value, int):
        mib = value
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; write e.g. 64M, 512MiB or 1G")
        unit = (match.group(2) or "M")[0].upper()
        mib = int(int(match.group(1)) * _SIZE_UNIT_MIB[unit])
    if mib < 1:
        raise ValueError(f"{value!r} is too small; the minimum is 1M")
    if mib > 1024 * 1024:
        raise ValueError(f"{value!r} is too large; the maximum is 1T")
    return mib


def _choice(options: tuple[str, ...] | dict[str, str]) -> Any:
    def check(value: Any) -> str:
        text = str(value)
        if text not in options:
            raise ValueError(f"{text!r} is not one of: {', '.join(options)}")
        return text

    return check


def _user(value: Any) -> str:
    text = str(value)
    if not _USER_RE.match(text):
        raise ValueError(f"{text!r} is not a valid user name (lowercase letters, digits, _ and -)")
    if text == "root":
        raise ValueError("must be an unprivileged user: the enclave and sessions never run as root")
    return text


def _container_name(value: Any) -> str:
    from tazpod.project.names import check_container_name

    return check_container_name(str(value))


def _mount_point(value: Any) -> str:
    text = str(value)
    if not (text.startswith("/") or text.startswith("~/")):
        raise ValueError(f"{text!r} must be an absolute path or start with ~/")
    if ".." in Path(text).parts:
        raise ValueError(f"{text!r} must not contain '..'")
    return text


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
    backend = reader.converted("backend", "ram", _choice(BACKENDS))
    size = reader.converted("size", DEFAULT_SIZE_MIB[backend], parse_size_mib)
    mount_point = reader.converted("mount_point", None, _mount_point)
    bridges = _bridges(reader)
    kdf_time = reader.converted("kdf_time_ms", DEFAULT_KDF_TIME_MS, _kdf_time)
    kdf_memory = reader.converted("kdf_memory_mib", DEFAULT_KDF_MEMORY_MIB, _kdf_memory)
    reader.finish()
    return VaultConfig(backend, size, mount_point, bridges, kdf_time, kdf_memory)


def _kdf_memory(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 32 <= value <= 4096:
        raise ValueError("must be a whole number of MiB from 32 to 4096")
    return value


def _kdf_time(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 60000:
        raise ValueError("must be a whole number of milliseconds from 100 to 60000")
    return value


def _quantity(value: Any) -> str:
    text = str(value)
    if isinstance(value, bool) or not _QUANTITY_RE.match(text):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return text


def _k8s_name(value: Any) -> str:
    text = str(value)
    if not _K8S_NAME_RE.match(text):
        raise ValueError(f"{value!r} is not a valid Kubernetes name (lowercase, digits, '-', '.')")
    return text


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
            values[str(name)] = amounts.converted(str(name), "", _quantity)
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
    namespace = reader.converted("namespace", None, _k8s_name)
    storage_class = reader.converted("storage_class", None, _k8s_name)
    size = reader.converted("size", "10Gi", _quantity)
    policy = reader.converted("image_pull_policy", "IfNotPresent", _choice(PULL_POLICIES))
    account = reader.converted("service_account", None, _k8s_name)
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
    build = BuildConfig(dockerfile, reader.string("context", "."), _build_args(reader))
    reader.finish()
    return build


def read_project_config(path: Path) -> Loaded:
    """Load and validate a config.yaml; raise ConfigError on the first problem."""
    top = MapReader(parse_yaml(path), path)
    vertical = top.converted("vertical", None, _choice(VERTICALS))
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
    features_reader = top.mapping("features")
    features = Features(
        features_reader.boolean("ghost_mode", True), features_reader.boolean("debug", False)
    )
    features_reader.finish()
    config = ProjectConfig(
        version=top.string("version", "1"),
        vertical=vertical,
        image=image,
        container_name=top.converted("container_name", "", _container_name),
        user=top.converted("user", "tazpod", _user),
        engine=top.converted("engine", "docker", _choice(ENGINES)),
        network=top.converted("network", "host", _choice(NETWORKS)),
        privileged=top.boolean("privileged", False),
        ulimits=_ulimits(top),
        x11=top.boolean("x11", False),
        features=features,
        vault=_read_vault(top.mapping("vault")),
        kubernetes=_read_kubernetes(top.mapping("kubernetes")),
        build=_read_build(top.mapping("build"), vertical),
    )
    top.finish()
    return Loaded(config, tuple(top.warnings))


def _from_json(data: dict[str, Any]) -> ProjectConfig:
    features, vault, build = data["features"], data["vault"], data["build"]
    return ProjectConfig(
        image=data["image"],
        container_name=data["container_name"],
        version=data["version"],
        vertical=data["vertical"],
        user=data["user"],
        engine=data["engine"],
        network=data["network"],
        privileged=data["privileged"],
        ulimits=tuple(data["ulimits"]),
        x11=data["x11"],
        features=Features(features["ghost_mode"], features["debug"]),
        kubernetes=KubernetesConfig(
            **{**data["kubernetes"], "tolerations": tuple(data["kubernetes"]["tolerations"])}
        ),
        vault=VaultConfig(
            vault["backend"],
            vault["size_mib"],
            vault["mount_point"],
            tuple(vault["bridges"]),
            vault["kdf_time_ms"],
            vault["kdf_memory_mib"],
        ),
        build=None
        if build is None
        else BuildConfig(
            build["dockerfile"], build["context"], tuple((k, v) for k, v in build["args"])
        ),
    )


def _cache_path(path: Path) -> Path:
    import hashlib

    from tazpod.project.paths import user_cache_dir

    digest = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:16]
    return user_cache_dir() / f"config-{digest}.json"


def load_project_config(path: Path) -> Loaded:
    """read_project_config through a per-user cache keyed by the file's mtime and size.

    Parsing YAML (ruamel.yaml's import alone) costs more than most commands' own work;
    the cache is JSON in ~/.cache/tazpod and is refreshed whenever config.yaml changes.
    """
    import dataclasses
    import json

    stat = path.stat()
    key = [str(path.absolute()), stat.st_mtime_ns, stat.st_size, __version__]
    cache = _cache_path(path)
    try:
        cached = json.loads(cache.read_text())
        if cached["key"] == key:
            return Loaded(_from_json(cached["config"]), tuple(cached["warnings"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    loaded = read_project_config(path)
    try:
        from tazpod.sysio.files import write_atomic

        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = {
            "key": key,
            "config": dataclasses.asdict(loaded.config),
            "warnings": list(loaded.warnings),
        }
        write_atomic(cache, json.dumps(payload).encode(), mode=0o600)
    except OSError:
        pass  # a cache that cannot be written is only slower
    return loaded


def update_vault_backend(path: Path, backend: str, size_mib: int) -> None:
    """Set vault.backend and vault.size in config.yaml, keeping its comments and layout."""
    import io

    from ruamel.yaml import YAML

    from tazpod.sysio.files import write_atomic

    yaml = YAML()
    data = yaml.load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a mapping; cannot record the new vault backend")
    vault = data.get("vault")
    if not isinstance(vault, dict):
        data["vault"] = vault = {}
    vault["backend"] = backend
    vault["size"] = f"{size_mib}M"
    out = io.StringIO()
    yaml.dump(data, out)
    write_atomic(path, out.getvalue().encode(), mode=path.stat().st_mode & 0o777)
