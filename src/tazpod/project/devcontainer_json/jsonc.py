"""JSON with comments, as devcontainer.json is written: `//` and `/* */` comments (never
inside strings) and trailing commas in objects and arrays.

A small recursive-descent reader rather than cleaning the text for json.loads: every
object and array keeps the line of each of its members, so a complaint about a property
names its line, and a syntax error names line and column and what was expected there.
Strings are decoded by the standard library's own JSON string scanner.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tazpod.errors import ConfigError

MAX_DEPTH = 64  # far beyond any real file; a deeper one is refused, not recursed into
_NUMBER = json.scanner.NUMBER_RE
# The standard library's JSON string scanner (C when built): (text, end after the opening
# quote, strict) -> (the string, the end after its closing quote).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WORDS = {"true": True, "false": False, "null": None}
_STRING_PROBLEMS = {  # (the standard library's words, said for a person)
    "Invalid control character at": "a control character (a line break, say) inside a"
    " string; write it as \\n",
    "Unterminated string starting at": "a string that never ends ('\"' expected)",
    "Invalid \\escape": "invalid \\escape (\\\\ for a backslash)",
}


class JsonObject(dict[str, Any]):
    """An object, with the line of each key (``lines``) and of its opening brace."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}


class JsonArray(list[Any]):
    """An array, with the line of each item (``lines``) and of its opening bracket."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []


def line_of(value: Any, key: str | int, default: int = 1) -> int:
    """The line of ``value``'s member ``key`` (an object's key or an array's index)."""
    if isinstance(value, JsonObject) and isinstance(key, str):
        return value.lines.get(key, value.line)
    if isinstance(value, JsonArray) and isinstance(key, int) and 0 <= key < len(value.lines):
        return value.lines[key]
    return default


class _Reader:
    def __init__(self, text: str, path: Path, warnings: list[str]) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.warnings = warnings

    # -- positions and errors ------------------------------------------------------------
    def line(self, pos: int | None = None) -> int:
        return self.text.count("\n", 0, self.pos if pos is None else pos) + 1

    def error(self, problem: str, pos: int | None = None) -> ConfigError:
        at = self.pos if pos is None else pos
        column = at - self.text.rfind("\n", 0, at)
        return ConfigError(
            f"{self.path}:{self.line(at)}:{column}: malformed JSON: {problem}",
            hint="devcontainer.json is JSON with // and /* */ comments; check the"
            " quoting and the commas near that place",
        )

    def found(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the file"
        return repr(self.text[self.pos])

    # -- the grammar -----------------------------------------------------------------------
    def skip(self) -> None:
        """Whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("a /* comment is never closed (*/ expected)")
                self.pos = end + 2
            else:
                return

    def value(self, depth: int) -> Any:
        self.skip()
        if depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep")
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char == '"':
            return self.string()
        for word, meaning in _WORDS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return meaning
        match = _NUMBER.match(self.text, self.pos)
        if match is not None and match.group():
            self.pos = match.end()
            whole, fraction, exponent = match.groups()
            return float(match.group()) if fraction or exponent else int(whole)
        raise self.error(
            f"a value (string, number, object, array, true, false or null)"
            f" expected, found {self.found()}"
        )

    def string(self) -> str:
        try:
            text, self.pos = _scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as err:
            raise self.error(_STRING_PROBLEMS.get(err.msg, err.msg.lower()), err.pos) from None
        return text

    def object(self, depth: int) -> JsonObject:
        result = JsonObject(self.line())
        self.pos += 1
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):  # (after a trailing comma, too)
                self.pos += 1
                return result
            if not self.text.startswith('"', self.pos):
                raise self.error(
                    f"a property name in double quotes or '}}' expected, found {self.found()}"
                )
            line = self.line()
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.error(f"':' expected after {key!r}, found {self.found()}")
            self.pos += 1
            if key in result:
                self.warnings.append(
                    f"{self.path}:{line}: {key!r} is given twice; the last one counts"
                )
            result[key] = self.value(depth + 1)
            result.lines[key] = line
            if not self.separator("}"):
                self.pos += 1
                return result

    def array(self, depth: int) -> JsonArray:
        result = JsonArray(self.line())
        self.pos += 1
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            self.skip()
            result.lines.append(self.line())
            result.append(self.value(depth + 1))
            if not self.separator("]"):
                self.pos += 1
                return result

    def separator(self, closing: str) -> bool:
        """After a member: True at a comma (consumed), False at ``closing`` (left)."""
        self.skip()
        if self.text.startswith(",", self.pos):
            self.pos += 1
            return True
        if self.text.startswith(closing, self.pos):
            return False
        raise self.error(f"',' or '{closing}' expected, found {self.found()}")


def parse(text: str, path: Path, warnings: list[str] | None = None) -> Any:
    """The value of a JSONC document; ConfigError (file:line:column) when malformed."""
    reader = _Reader(text, path, warnings if warnings is not None else [])
    result = reader.value(0)
    reader.skip()
    if reader.pos < len(text):
        raise reader.error(f"the end of the file expected after the value, found {reader.found()}")
    return result
