"""The per-user cache of parsed config.yaml files: JSON rebuilt from the schema itself.

Values are stored by their own structure, never by a field list kept by hand:
a dataclass as its class name and fields, tuples and dicts tagged, so a field
added to tazpod.project.schema is cached with no change here. The schema's
fingerprint (every section's field names and types) is part of the cache key,
so a cache written by a different schema is never read back.

Only the sections in ``schema.SECTIONS`` are rebuilt (no pickle, no imports by
name): a cache file can name nothing else.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tazpod.project.schema import SECTIONS, Loaded

# A JSON list is always one of these tagged nodes; a bare JSON scalar is itself.
_TUPLE, _LIST, _DICT, _SECTION = "tuple", "list", "dict", "section"


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` that ``decode`` turns back into an equal value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if type(value) in SECTIONS:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return [_SECTION, type(value).__name__, fields]
    if isinstance(value, tuple):
        return [_TUPLE, [encode(item) for item in value]]
    if isinstance(value, list):
        return [_LIST, [encode(item) for item in value]]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only string keys survive JSON")
        return [_DICT, {key: encode(item) for key, item in value.items()}]
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(node: Any) -> Any:
    """The value ``encode`` was given; TypeError, KeyError or ValueError if malformed."""
    if not isinstance(node, list):
        if isinstance(node, dict):
            raise ValueError("an untagged mapping")
        return node
    tag = node[0]
    if tag == _SECTION:
        section = {cls.__name__: cls for cls in SECTIONS}[node[1]]
        return section(**{name: decode(item) for name, item in node[2].items()})
    if tag == _TUPLE:
        return tuple(decode(item) for item in node[1])
    if tag == _LIST:
        return [decode(item) for item in node[1]]
    if tag == _DICT:
        return {str(key): decode(item) for key, item in node[1].items()}
    raise ValueError(f"unknown tag {tag!r}")


def schema_fingerprint() -> str:
    """Every section's field names and declared types, in order."""
    return ";".join(
        f"{cls.__name__}(" + ",".join(f"{f.name}:{f.type}" for f in dataclasses.fields(cls)) + ")"
        for cls in SECTIONS
    )


def cache_path(path: Path) -> Path:
    import hashlib

    from tazpod.project.paths import user_cache_dir

    digest = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:16]
    return user_cache_dir() / f"config-{digest}.json"


def cache_key(path: Path, version: str) -> list[Any]:
    """What must not change for a cached parse to stand: the file, tazpod, the schema."""
    stat = path.stat()
    return [str(path.absolute()), stat.st_mtime_ns, stat.st_size, version, schema_fingerprint()]


def read_cached(cache: Path, key: list[Any]) -> Loaded | None:
    """The cached parse under ``key``, or None (absent, stale or unreadable)."""
    import json

    try:
        cached = json.loads(cache.read_text())
        if cached["key"] == key:
            return Loaded(decode(cached["config"]), tuple(cached["warnings"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return None


def write_cached(cache: Path, key: list[Any], loaded: Loaded) -> None:
    """Store a parse; a cache that cannot be written is only slower."""
    import json

    from tazpod.sysio.files import write_atomic

    try:
        payload = {"key": key, "config": encode(loaded.config), "warnings": list(loaded.warnings)}
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(cache, json.dumps(payload).encode(), mode=0o600)
    except (OSError, TypeError):
        pass
