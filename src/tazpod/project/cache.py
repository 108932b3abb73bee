"""The per-user cache of parsed config.yaml (and secrets.yml) files: JSON rebuilt from the schema.

Values are stored by their own structure, never by a field list kept by hand:
a dataclass as its class name and fields, tuples and dicts tagged, so a field
added to tazpod.project.schema is cached with no change here. The schema's
fingerprint (every section's field names and types) is part of the cache key,
so a cache written by a different schema is never read back.

Only the sections named by the reader (``schema.SECTIONS`` for config.yaml) are rebuilt
(no pickle, no imports by name): a cache file can name nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from tazpod.project.schema import SECTIONS, Loaded

Sections = tuple[type, ...]
T = TypeVar("T")

# A JSON list is always one of these tagged nodes; a bare JSON scalar is itself.
_TUPLE, _LIST, _DICT, _SECTION = "tuple", "list", "dict", "section"


def encode(value: Any, sections: Sections = SECTIONS) -> Any:
    """A JSON-ready form of ``value`` that ``decode`` turns back into an equal value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if type(value) in sections:
        fields = {
            f.name: encode(getattr(value, f.name), sections) for f in dataclasses.fields(value)
        }
        return [_SECTION, type(value).__name__, fields]
    if isinstance(value, tuple):
        return [_TUPLE, [encode(item, sections) for item in value]]
    if isinstance(value, list):
        return [_LIST, [encode(item, sections) for item in value]]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only string keys survive JSON")
        return [_DICT, {key: encode(item, sections) for key, item in value.items()}]
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(node: Any, sections: Sections = SECTIONS) -> Any:
    """The value ``encode`` was given; TypeError, KeyError or ValueError if malformed."""
    if not isinstance(node, list):
        if isinstance(node, dict):
            raise ValueError("an untagged mapping")
        return node
    tag = node[0]
    if tag == _SECTION:
        section = {cls.__name__: cls for cls in sections}[node[1]]
        return section(**{name: decode(item, sections) for name, item in node[2].items()})
    if tag == _TUPLE:
        return tuple(decode(item, sections) for item in node[1])
    if tag == _LIST:
        return [decode(item, sections) for item in node[1]]
    if tag == _DICT:
        return {str(key): decode(item, sections) for key, item in node[1].items()}
    raise ValueError(f"unknown tag {tag!r}")


def schema_fingerprint(sections: Sections = SECTIONS) -> str:
    """Every section's field names and declared types, in order."""
    return ";".join(
        f"{cls.__name__}(" + ",".join(f"{f.name}:{f.type}" for f in dataclasses.fields(cls)) + ")"
        for cls in sections
    )


def cache_path(path: Path, kind: str = "config") -> Path:
    import hashlib

    from tazpod.project.paths import user_cache_dir

    digest = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:16]
    return user_cache_dir() / f"{kind}-{digest}.json"


def cache_key(path: Path, version: str, sections: Sections = SECTIONS) -> list[Any]:
    """What must not change for a cached parse to stand: the file, tazpod, the schema.

    The name itself, not what a link there points at: a link put where the file was
    must not find the real file's cached parse (parsing refuses links).
    """
    stat = path.lstat()
    return [
        str(path.absolute()),
        stat.st_mtime_ns,
        stat.st_size,
        stat.st_ino,
        stat.st_ctime_ns,  # no user can set it: a rewrite with the old mtime still shows
        version,
        schema_fingerprint(sections),
    ]


def read_cached(cache: Path, key: list[Any], sections: Sections = SECTIONS) -> Loaded | None:
    """The cached parse under ``key``, or None (absent, stale or unreadable)."""
    import json

    try:
        cached = json.loads(cache.read_text())
        if cached["key"] == key:
            return Loaded(decode(cached["config"], sections), tuple(cached["warnings"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return None


def write_cached(
    cache: Path, key: list[Any], loaded: Loaded, sections: Sections = SECTIONS
) -> None:
    """Store a parse; a cache that cannot be written is only slower."""
    import json

    from tazpod.sysio.files import write_atomic

    try:
        payload = {
            "key": key,
            "config": encode(loaded.config, sections),
            "warnings": list(loaded.warnings),
        }
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(cache, json.dumps(payload).encode(), mode=0o600)
    except (OSError, TypeError):
        pass


def parse_cached(
    path: Path,
    kind: str,
    sections: Sections,
    version: str,
    parse: Callable[[Path], tuple[T, tuple[str, ...]]],
) -> tuple[T, tuple[str, ...]]:
    """``parse(path)`` through the cache of ``kind`` files (its values built of ``sections``)."""
    key = cache_key(path, version, sections)
    where = cache_path(path, kind)
    cached = read_cached(where, key, sections)
    if cached is not None:
        return cast(T, cached.config), cached.warnings
    value, warnings = parse(path)
    write_cached(where, key, Loaded(value, warnings), sections)
    return value, warnings
