"""Changing `.tazpod/config.yaml` in place, keeping its comments and layout."""

from __future__ import annotations

from pathlib import Path

from tazpod.errors import ConfigError


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
