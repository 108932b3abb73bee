"""The dotenv grammar tazpod reads, in two dialects.

Both follow python-dotenv's parser (what `docker --env-file` users and most tools
mean by ".env"): an optional `export `, a bare or single-quoted key, `=`, then a value
that is single-quoted, double-quoted (with python-dotenv's escapes) or unquoted (the
rest of the line, without a ` # comment`, right-stripped); anything else on the line
is an error of that line only, and reading goes on with the next line.

- ``"tazpod"``: the vault's own files. Single quotes are POSIX shell quotes (no escapes
  inside), and quoted parts join as in a shell (`'it'\\''s'`), which is what
  ``dotenv.render`` writes; keys may be quoted the same way.
- ``"dotenv"``: files people import. Single quotes take python-dotenv's `\\'` and `\\\\`;
  where python-dotenv and a shell would read a line differently, a note says so.

Plain classes and no dataclasses: `tazpod env` imports this on every prompt.
"""

from __future__ import annotations

import re

from tazpod.secrets.dotenv_parsed import Parsed, Problem
from tazpod.secrets.value import Secret

__all__ = ["Parsed", "Problem", "Reader"]

_BLANK = re.compile(r"\s*")
_HSPACE = re.compile(r"[^\S\r\n]*")
_EXPORT = re.compile(r"export[^\S\r\n]+")
_BARE_KEY = re.compile(r"[^=#\s]+")
_DOTENV_SINGLE = re.compile(r"'((?:\\'|[^'])*)'")
_DOUBLE = re.compile(r'"((?:\\"|[^"])*)"')
_UNQUOTED = re.compile(r"[^\r\n]*")
_COMMENT = re.compile(r"[^\S\r\n]*#[^\r\n]*")
_END = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
_REST = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)?")
_SINGLE_ESCAPES = {"\\": "\\", "'": "'"}
_DOUBLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


class _LineError(Exception):
    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.message, self.name = message, name


class Reader:
    """Reads bindings from ``text[start:end]`` into a Parsed; line numbers are the file's."""

    def __init__(self, text: str, origin: str, dialect: str, into: Parsed) -> None:
        self.text, self.origin, self.dialect, self.out = text, origin, dialect, into
        self.pos = 0
        self.end = len(text)

    def line_at(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def read(self, start: int, end: int) -> None:
        self.pos, self.end = start, end
        while True:
            self.pos = self._match(_BLANK).end()
            if self.pos >= self.end:
                return
            begin = self.pos
            try:
                self._binding(begin)
            except _LineError as err:
                self.out.problems.append(
                    Problem(self.origin, self.line_at(begin), err.name, err.message)
                )
                self.pos = _REST.match(self.text, begin, self.end).end()  # type: ignore[union-attr]

    # -- one binding ------------------------------------------------------------------------
    def _match(self, pattern: re.Pattern[str]) -> re.Match[str]:
        match = pattern.match(self.text, self.pos, self.end)
        assert match is not None  # only called with patterns that match the empty string
        return match

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def _binding(self, begin: int) -> None:
        if self._peek() == "#":
            self.pos = _REST.match(self.text, self.pos, self.end).end()  # type: ignore[union-attr]
            return
        export = _EXPORT.match(self.text, self.pos, self.end)
        if export:
            self.pos = export.end()
        name = self._key()
        self.pos = self._match(_HSPACE).end()
        if self._peek() != "=":
            raise _LineError(f"expected '=' after {name}")
        self.pos += 1
        self.pos = self._match(_HSPACE).end()
        value = self._value(name, begin)
        self._finish_line(name)
        if "\0" in value or "\0" in name:
            raise _LineError("contains a NUL byte, which no variable or file can hold", name)
        if _not_utf8(name) or _not_utf8(value):
            raise _LineError("is not valid UTF-8", None if _not_utf8(name) else name)
        if name in self.out.values:
            self.out.notes.append(
                Problem(self.origin, self.line_at(begin), name, "appears again; this one wins")
            )
        self.out.values[name] = Secret(value)

    def _finish_line(self, name: str) -> None:
        comment = _COMMENT.match(self.text, self.pos, self.end)
        if comment:
            self.pos = comment.end()
        end = _END.match(self.text, self.pos, self.end)
        if end is None:
            raise _LineError("unexpected text after the value (quote the whole value)", name)
        self.pos = end.end()

    def _key(self) -> str:
        if self._peek() == "'":
            if self.dialect == "tazpod":
                return self._shell_word(None)
            match = re.compile(r"'([^']+)'").match(self.text, self.pos, self.end)
            if match is None:
                raise _LineError("expected NAME=value")
            self.pos = match.end()
            return match.group(1)
        match = _BARE_KEY.match(self.text, self.pos, self.end)
        if match is None:
            raise _LineError("expected NAME=value")
        self.pos = match.end()
        return match.group(0)

    def _value(self, name: str, begin: int) -> str:
        char = self._peek()
        if char in ("", "\r", "\n"):
            return ""
        if char == "'" and self.dialect == "tazpod":
            return self._shell_word(name)
        if char == "'":
            value = self._quoted(_DOTENV_SINGLE, _SINGLE_ESCAPES, name, begin)
        elif char == '"':
            value = self._quoted(_DOUBLE, _DOUBLE_ESCAPES, name, begin)
            self._note_interpolation(value, name, begin)
        else:
            raw = self._match(_UNQUOTED).group(0)
            self.pos += len(raw)
            value = re.sub(r"\s+#.*", "", raw).rstrip()
            self._note_unquoted(value, name, begin)
            return value
        if self._peek() in ("'", "\\") and self.dialect == "dotenv":
            value += self._shell_word(name)
            self._note(begin, name, "quoted parts joined as a shell does (python-dotenv refuses)")
        return value

    def _quoted(
        self, pattern: re.Pattern[str], escapes: dict[str, str], name: str, begin: int
    ) -> str:
        match = pattern.match(self.text, self.pos, self.end)
        if match is None:
            quote_char = self.text[self.pos]
            raise _LineError(f"unterminated {quote_char} quote", name)
        self.pos = match.end()
        body = match.group(1)
        if pattern is _DOTENV_SINGLE and "\\" in body:
            self._note(begin, name, "backslashes in single quotes read as python-dotenv does")
        return _unescape(body, escapes)

    def _shell_word(self, name: str | None) -> str:
        """`'...'` parts and `\\x` escapes, joined, as a POSIX shell reads them."""
        parts: list[str] = []
        while self._peek() in ("'", "\\"):
            if self._peek() == "\\":
                if self.pos + 1 >= self.end:
                    raise _LineError("a lone backslash ends the line", name)
                parts.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            close = self.text.find("'", self.pos + 1, self.end)
            if close < 0:
                raise _LineError("unterminated ' quote", name)
            parts.append(self.text[self.pos + 1 : close])
            self.pos = close + 1
        return "".join(parts)

    # -- notes for imports -------------------------------------------------------------------
    def _note(self, begin: int, name: str, message: str) -> None:
        self.out.notes.append(Problem(self.origin, self.line_at(begin), name, message))

    def _note_interpolation(self, value: str, name: str, begin: int) -> None:
        if "${" in value:
            self._note(begin, name, "kept ${...} literally (python-dotenv would expand it)")

    def _note_unquoted(self, value: str, name: str, begin: int) -> None:
        self._note_interpolation(value, name, begin)
        if any(c in value for c in "'\"\\"):
            self._note(begin, name, "unquoted value with quotes or backslashes, kept literally")


def _unescape(body: str, escapes: dict[str, str]) -> str:
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body) and body[index + 1] in escapes:
            out.append(escapes[body[index + 1]])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _not_utf8(text: str) -> bool:
    """Bytes that were not UTF-8 come back as lone surrogates (surrogateescape)."""
    return any("\udc80" <= c <= "\udcff" for c in text)
