"""Dotenv files: tazpod writes `NAME='value'` that any POSIX shell reads back exactly,
and reads the dotenv dialects people have (quotes, `export`, comments, escapes).

Values may hold anything but NUL: quotes, newlines, `$`, backslashes, unicode.
"""

from __future__ import annotations

import os
import re

from tazpod.errors import ConfigError
from tazpod.secrets.value import Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


def quote(value: str) -> str:
    """Single-quote for POSIX shells: the only special character inside is the quote."""
    return "'" + value.replace("'", "'\\''") + "'"


def render(values: Mapping[str, Secret]) -> str:
    lines = ["# written by tazpod: do not edit (it is rewritten on every pull)"]
    for name in sorted(values):
        lines.append(f"{name}={quote(values[name].reveal())}")
    return "\n".join(lines) + "\n"


class _Reader:
    def __init__(self, text: str, origin: str) -> None:
        self.text, self.origin, self.pos, self.line = text, origin, 0, 1

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.origin}:{self.line}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        if char == "\n":
            self.line += 1
        return char

    def skip_blank_and_comments(self) -> None:
        while self.peek():
            if self.peek() in " \t\r\n":
                self.take()
            elif self.peek() == "#":
                while self.peek() not in ("", "\n"):
                    self.take()
            else:
                return

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise self.error("expected NAME=value")
        self.pos = match.end()
        return match.group(0)

    def value(self) -> str:
        parts: list[str] = []
        while self.peek() not in ("", "\n"):
            char = self.peek()
            if char == "'":
                parts.append(self._quoted("'"))
            elif char == '"':
                parts.append(self._quoted('"'))
            elif char in " \t":
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                rest = self.text[self.pos : end].strip()
                if rest and not rest.startswith("#"):
                    raise self.error("unquoted value contains a space; quote it")
                self.pos = end  # a trailing comment
            elif char == "\\":
                self.take()
                parts.append(self.take())
            else:
                parts.append(self.take())
        return "".join(parts)

    def _quoted(self, quote_char: str) -> str:
        start = self.line
        self.take()
        out: list[str] = []
        while True:
            char = self.take()
            if char == "":
                raise ConfigError(f"{self.origin}:{start}: unterminated {quote_char} quote")
            if char == quote_char:
                return "".join(out)
            if quote_char == '"' and char == "\\":
                escaped = self.take()
                out.append(_DOUBLE_ESCAPES.get(escaped, "\\" + escaped))
            else:
                out.append(char)


def parse(text: str, origin: str) -> dict[str, Secret]:
    reader = _Reader(text, origin)
    values: dict[str, Secret] = {}
    while True:
        reader.skip_blank_and_comments()
        if not reader.peek():
            return values
        if reader.text.startswith("export ", reader.pos):
            reader.pos += len("export ")
        name = reader.key()
        if reader.take() != "=":
            raise reader.error(f"expected '=' after {name}")
        value = reader.value()
        if "\0" in value:
            raise reader.error(f"{name} contains a NUL byte")
        values[name] = Secret(value)


def read_file(path: str | os.PathLike[str]) -> dict[str, Secret]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err
    return parse(text, str(path))
