"""Changing `.tazpod/config.yaml` in place, keeping its comments and layout."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def update_keys(
    path: Path, values: dict[str, Any], remove: Iterable[str] = (), header: str | None = None
) -> list[str]:
    """Set ``values`` and remove ``remove`` in config.yaml, keeping its comments and layout;
    the keys it removed (those of ``remove`` that were there).

    A key that is there keeps its place (a mapping is updated key by key, so comments in
    it stay); new keys go at the end, under ``header`` (written once). Lists of plain
    values are written in flow style (`[a, b]`), mappings in block style.
    """
    import io

    from ruamel.yaml.comments import CommentedMap

    from tazpod.project.yamldoc import read_regular
    from tazpod.sysio.files import write_atomic

    yaml = _yaml()
    text = read_regular(path).decode("utf-8")
    data = yaml.load(text)
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: not a mapping; cannot record the settings")
    removed = [key for key in remove if key in data]
    for key in removed:
        del data[key]
    fresh = [key for key in values if key not in data]
    for key, value in values.items():
        _assign(data, key, value)
    if fresh and header and f"# {header.splitlines()[0]}" not in text:
        data.yaml_set_comment_before_after_key(fresh[0], before=header)
    out = io.StringIO()
    yaml.dump(data, out)
    write_atomic(path, out.getvalue().encode(), mode=path.stat().st_mode & 0o777)
    return removed


def _assign(target: Any, key: str, value: Any) -> None:
    """``target[key] = value``, changing no more than differs (comments stay with it)."""
    current = target.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        for gone in [name for name in current if name not in value]:
            del current[gone]
        for name, item in value.items():
            _assign(current, name, item)
    elif current != value or type(current) is bool is not type(value):
        target[key] = _styled(value)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)  # (as `tazpod init` writes the file)
    yaml.width = 4096  # a long command stays on its line
    return yaml


def _styled(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        styled = CommentedMap()
        for key, item in value.items():
            styled[key] = _styled(item)
        return styled
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_styled(item) for item in value)
        if not any(isinstance(item, dict | list | tuple) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value
