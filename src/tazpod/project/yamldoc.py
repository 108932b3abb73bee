"""Reading YAML files with positions, so every complaint names file, line and key.

Parsing uses ruamel.yaml's round-trip loader: it keeps line numbers (and
comments, for the day a command rewrites a file). ``MapReader`` walks one
mapping, converts and checks values, and records unknown keys as warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tazpod.errors import ConfigError

T = TypeVar("T")


MAX_SETTINGS_FILE = 1 << 20


def _read_regular(path: Path) -> bytes:
    """A settings file's bytes: a regular file of its own, never through a link.

    The project is writable from the container (and by a commit): a link put there could
    make root on the host read, and quote in errors, a file of its choosing.
    """
    import errno
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ConfigError(
                f"{path} is a symbolic link; tazpod reads its settings only from a regular file",
                hint=f'put the file itself there (cp --remove-destination "$(readlink -f'
                f' {path})" {path}), after reading it',
            ) from err
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path} is not a regular file", hint="put the settings file there")
        if info.st_size > MAX_SETTINGS_FILE:
            raise ConfigError(f"{path} is larger than 1 MiB; no settings file is")
        return handle.read(MAX_SETTINGS_FILE + 1)


def read_regular(path: Path) -> bytes:
    """A settings file's bytes (devcontainer.json's too): a regular file, never a link."""
    return _read_regular(path)


def parse_yaml(path: Path) -> Any:
    """Parse ``path``; malformed YAML becomes a ConfigError with the line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = _read_regular(path).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from err
    try:
        return YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = err.problem or err.context or "malformed YAML"
        start = err.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            problem += f" (in what starts at line {start.line + 1})"
        raise ConfigError(
            f"{path}{line}: malformed YAML: {problem}",
            hint="check indentation and quoting near that line",
        ) from err
    except YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from err


def type_name(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class MapReader:
    """Typed, positioned access to one YAML mapping."""

    def __init__(
        self,
        data: Any,
        path: Path,
        prefix: str = "",
        line: int | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.path = path
        self.prefix = prefix
        self.line = line
        self.warnings: list[str] = warnings if warnings is not None else []
        if data is None:
            data = {}
        if not isinstance(data, dict):
            where = self.prefix.rstrip(".") or "the document"
            raise self._error_at(line, f"{where} must be a mapping, not {type_name(data)}")
        self.data: dict[Any, Any] = data
        self.seen: set[str] = set()

    # -- positions -------------------------------------------------------------
    def line_of(self, key: str) -> int | None:
        lc = getattr(self.data, "lc", None)
        if lc is not None and key in self.data:
            try:
                return int(lc.key(key)[0]) + 1
            except (KeyError, TypeError):
                return self.line
        return self.line

    def item_line(self, seq: Any, index: int) -> int | None:
        lc = getattr(seq, "lc", None)
        if lc is not None:
            try:
                return int(lc.item(index)[0]) + 1
            except (KeyError, TypeError, IndexError):
                return None
        return None

    def where(self, key: str, line: int | None = None) -> str:
        line = line if line is not None else self.line_of(key)
        pos = f":{line}" if line is not None else ""
        return f"{self.path}{pos}: {self.prefix}{key}"

    def _error_at(self, line: int | None, message: str, hint: str | None = None) -> ConfigError:
        pos = f":{line}" if line is not None else ""
        return ConfigError(f"{self.path}{pos}: {message}", hint=hint)

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {message}", hint=hint)

    # -- typed getters ---------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def string(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool | dict | list):
            raise self.error(key, f"must be a string, not {type_name(value)}")
        # TazPod writes `version: 1.0`; numbers are accepted where a string is meant.
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(
                key, f"must be true or false, not {type_name(value)}", hint="write true or false"
            )
        return value

    def mapping(self, key: str) -> MapReader:
        value = self._get(key)
        return MapReader(value, self.path, f"{self.prefix}{key}.", self.line_of(key), self.warnings)

    def sequence(self, key: str) -> Iterator[tuple[int, Any, int | None]]:
        value = self._get(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, not {type_name(value)}")
        for index, item in enumerate(value):
            yield index, item, self.item_line(value, index) or self.line_of(key)

    def converted(self, key: str, default: T, convert: Callable[[Any], T]) -> T:
        """Apply ``convert``; its ValueError text becomes the message."""
        value = self._get(key)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError as err:
            raise self.error(key, str(err)) from err

    def finish(self) -> None:
        """Warn about keys nobody asked for (likely typos)."""
        for key in self.data:
            if str(key) not in self.seen:
                name = str(key) if str(key).isprintable() else repr(str(key))  # planted text
                where = self.where(name, self.line_of(str(key)))
                self.warnings.append(f"{where}: unknown key (ignored)")
