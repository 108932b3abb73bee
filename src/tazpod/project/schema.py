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
    features: Features = field(default_factory=Features)
    vault: VaultConfig = field(default_factory=VaultConfig)
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    build: BuildConfig | None = None


# Every dataclass a ProjectConfig is made of: what the cache may rebuild.
SECTIONS: tuple[type, ...] = (ProjectConfig, Features, BuildConfig, VaultConfig, KubernetesConfig)


@dataclass(frozen=True)
class Loaded:
    """A parsed file plus the warnings it produced."""

    config: Any
    warnings: tuple[str, ...] = ()
