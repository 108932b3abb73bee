"""The typed form of `.tazpod/config.yaml`: its sections, their defaults and choices.

Plain frozen dataclasses and constants, nothing read or checked here (see
tazpod.project.read); the cache (tazpod.project.cache) stores them by their fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BACKENDS = ("ram", "luks")
ENGINES = ("docker", "podman", "kubernetes")
NETWORKS = ("host", "none")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
MOUNT_TYPES = ("bind", "volume")
# The lifecycle hooks in the order they run (devcontainer.json's, under their config names).
HOOK_STAGES = ("on_create", "update_content", "post_create", "post_start", "post_attach")
DEFAULT_BRIDGES = ("~/.infisical", "~/infisical-keyring", "~/.gemini")
DEFAULT_SIZE_MIB = {"ram": 64, "luks": 512}
DEFAULT_KDF_TIME_MS = 2000  # cryptsetup's own default --iter-time
DEFAULT_KDF_MEMORY_MIB = 1024  # cryptsetup's own default maximum (it takes at most half the RAM)


@dataclass(frozen=True)
class Features:
    ghost_mode: bool = True
    debug: bool = False


@dataclass(frozen=True)
class BuildConfig:
    dockerfile: str | None  # None: the vertical's own Dockerfile, shipped with tazpod
    context: str = "."
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None  # a stage of a multi-stage Dockerfile (`docker build --target`)


@dataclass(frozen=True)
class MountConfig:
    """`mounts:` (a devcontainer.json's): a host path or a named volume in the container."""

    target: str  # an absolute path in the container
    source: str  # bind: relative to the project, or absolute; volume: the volume's name
    type: str = "bind"  # bind or volume
    read_only: bool = False


@dataclass(frozen=True)
class HookCommand:
    """One command of a lifecycle hook, in devcontainer.json's forms."""

    name: str  # "": the hook's one command; else one of its named commands (run in parallel)
    command: str | tuple[str, ...]  # a string: run by /bin/sh -c; a tuple: argv, no shell


@dataclass(frozen=True)
class Hooks:
    """`hooks:`: commands run in the container as the user (devcontainer.json's lifecycle)."""

    on_create: tuple[HookCommand, ...] = ()  # once, after `up` made the container ...
    update_content: tuple[HookCommand, ...] = ()  # ... then this ...
    post_create: tuple[HookCommand, ...] = ()  # ... then this
    post_start: tuple[HookCommand, ...] = ()  # after every start
    post_attach: tuple[HookCommand, ...] = ()  # when a session attaches (`tazpod ssh`)


@dataclass(frozen=True)
class DevcontainerSource:
    """`devcontainer:`: the devcontainer.json the settings were imported from."""

    source: str  # relative to the project
    sha256: str  # of its bytes at the import


@dataclass(frozen=True)
class LocalFeature:
    """`devcontainer_features:` entries: a Dev Container Feature in a folder of the project."""

    path: str  # relative to the project: holds devcontainer-feature.json and install.sh
    options: tuple[tuple[str, str], ...] = ()  # option id -> value, as the user gave them


@dataclass(frozen=True)
class VaultConfig:
    backend: str = "ram"
    size_mib: int = DEFAULT_SIZE_MIB["ram"]
    mount_point: str | None = None  # None: chosen at run time (see tazpod.project.paths)
    bridges: tuple[str, ...] = DEFAULT_BRIDGES
    kdf_time_ms: int = DEFAULT_KDF_TIME_MS  # luks: cryptsetup --iter-time for new keyslots
    kdf_memory_mib: int = DEFAULT_KDF_MEMORY_MIB  # luks: cryptsetup --pbkdf-memory (its max)
    # Auto-lock (tazpod.enclave.autolock), in seconds; None: off (also when written as 0).
    idle_lock: int | None = None  # no input on the enclave's terminals, no CPU use
    max_open: int | None = None  # since the enclave opened


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
    # A Localhost seccomp profile (tazpod's, `tazpod image seccomp`), relative to the
    # kubelet's seccomp directory: the pod then needs no CAP_SYS_ADMIN for the ram vault.
    seccomp_profile: str | None = None


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
    ssh_agent: bool = False  # `tazpod ssh-config` entries forward the ssh agent
    features: Features = field(default_factory=Features)
    vault: VaultConfig = field(default_factory=VaultConfig)
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    build: BuildConfig | None = None
    # What a devcontainer.json adds (tazpod init --from-devcontainer), or written by hand.
    environment: dict[str, str] = field(default_factory=dict)  # the container's variables
    mounts: tuple[MountConfig, ...] = ()
    forward_ports: tuple[int, ...] = ()
    hooks: Hooks = field(default_factory=Hooks)
    memory: str | None = None  # docker run --memory (e.g. 4g)
    cpus: str | None = None  # docker run --cpus (e.g. 1.5)
    shm_size: str | None = None  # docker run --shm-size (e.g. 1g)
    hostname: str | None = None
    devcontainer: DevcontainerSource | None = None
    devcontainer_features: tuple[LocalFeature, ...] = ()


# Every dataclass a ProjectConfig is made of: what the cache may rebuild.
SECTIONS: tuple[type, ...] = (
    *(ProjectConfig, Features, BuildConfig, VaultConfig, KubernetesConfig, MountConfig),
    *(HookCommand, Hooks, DevcontainerSource, LocalFeature),
)


@dataclass(frozen=True)
class Loaded:
    """A parsed file plus the warnings it produced."""

    config: Any
    warnings: tuple[str, ...] = ()
