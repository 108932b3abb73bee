"""`.tazpod/config.yaml`: where it lives, and loading it through the per-user cache.

The parts live next door, one job each: tazpod.project.schema (the types, defaults
and choices), .verticals (the image catalogue), .validate (single values), .read
(YAML to the schema), .cache (the parsed form on disk) and .edit (in-place
changes). The names most callers use are importable from here; the reading,
checking and editing ones only on first use, so that a command whose config comes
from the cache (`tazpod exec`) imports none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tazpod import __version__
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
from tazpod.project.verticals import (
    DEFAULT_VERTICAL,
    VERTICAL_PARENT,
    VERTICALS,
    vertical_chain,
    vertical_image,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tazpod.project.edit import update_vault_backend
    from tazpod.project.read import read_project_config
    from tazpod.project.validate import parse_size_mib

__all__ = [
    "BACKENDS",
    "CONFIG_DIR",
    "CONFIG_FILE",
    "DEFAULT_BRIDGES",
    "DEFAULT_KDF_MEMORY_MIB",
    "DEFAULT_KDF_TIME_MS",
    "DEFAULT_SIZE_MIB",
    "DEFAULT_VERTICAL",
    "ENGINES",
    "NETWORKS",
    "PULL_POLICIES",
    "SECRETS_FILE",
    "VERTICALS",
    "VERTICAL_PARENT",
    "BuildConfig",
    "Features",
    "KubernetesConfig",
    "Loaded",
    "ProjectConfig",
    "VaultConfig",
    "load_project_config",
    "parse_size_mib",
    "read_project_config",
    "update_vault_backend",
    "vertical_chain",
    "vertical_image",
]

CONFIG_DIR = ".tazpod"
CONFIG_FILE = "config.yaml"
SECRETS_FILE = "secrets.yml"
_ON_FIRST_USE = {
    "read_project_config": "tazpod.project.read",
    "update_vault_backend": "tazpod.project.edit",
    "parse_size_mib": "tazpod.project.validate",
}


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_ON_FIRST_USE[name]), name)


def load_project_config(path: Path) -> Loaded:
    """read_project_config through a per-user cache keyed by the file's mtime and size.

    Parsing YAML (ruamel.yaml's import alone) costs more than most commands' own work;
    the cache is JSON in ~/.cache/tazpod and is refreshed whenever config.yaml changes.
    """
    from tazpod.project import cache
    from tazpod.project.schema import SECTIONS

    def parse(path: Path) -> tuple[ProjectConfig, tuple[str, ...]]:
        from tazpod.project import read

        loaded = read.read_project_config(path)
        return loaded.config, loaded.warnings

    config, warnings = cache.parse_cached(path, "config", SECTIONS, __version__, parse)
    return Loaded(config, warnings)
