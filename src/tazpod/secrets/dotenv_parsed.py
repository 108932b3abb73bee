"""What reading a dotenv file gives, and the fast reader for the files tazpod wrote.

`tazpod env` runs on every prompt and reads the vault's dotenv files, which tazpod
itself rendered (``dotenv.render``: its header, then `NAME='value'` lines in POSIX
shell quoting). ``read_rendered`` reads exactly that form with plain string methods;
anything else (a hand edit, a NUL, bytes that are not UTF-8, a repeated name) gets
None, and the full grammar (``dotenv_grammar``, which needs `re`) reads the file and
reports its problems by line. Plain classes, no `re`, no dataclasses.
"""

from __future__ import annotations

from tazpod.secrets.value import Secret

# Characters that make render quote a name (its bare-name rule, without `re`).
_NAME_SPECIAL = frozenset("=#'\"\\")


class Problem:
    """One line of a file: where it is and what is wrong (or ambiguous). Never a value."""

    __slots__ = ("line", "message", "name", "origin")

    def __init__(self, origin: str, line: int, name: str | None, message: str) -> None:
        self.origin, self.line, self.name, self.message = origin, line, name, message

    def __str__(self) -> str:
        subject = f"{self.name}: " if self.name else ""
        return f"{self.origin}:{self.line}: {subject}{self.message}"

    __repr__ = __str__


class Parsed:
    """What a file gave: its values, the lines skipped, and the lines read with a caveat."""

    __slots__ = ("notes", "problems", "values")

    def __init__(self) -> None:
        self.values: dict[str, Secret] = {}
        self.problems: list[Problem] = []
        self.notes: list[Problem] = []


def read_rendered(text: str, header: str) -> dict[str, str] | None:
    """The values of a file exactly as ``dotenv.render`` writes it, else None."""
    if not text.startswith(header + "\n") or "\0" in text:
        return None
    try:
        text.encode("utf-8")  # lone surrogates: bytes that were not UTF-8
    except UnicodeEncodeError:
        return None
    values: dict[str, str] = {}
    pos, end = len(header) + 1, len(text)
    while pos < end:
        if text[pos] == "'":
            name, pos = _shell_quoted(text, pos)
        else:
            equals = text.find("=", pos)
            name = text[pos:equals] if equals > pos else None
            if name is not None:
                if name.startswith("export") or any(
                    c in _NAME_SPECIAL or c.isspace() for c in name
                ):
                    return None
                pos = equals
        if name is None or name in values or not text.startswith("='", pos):
            return None
        value, pos = _shell_quoted(text, pos + 1)
        if value is None or (pos < end and text[pos] != "\n"):
            return None
        values[name] = value
        pos += 1
    return values


def _shell_quoted(text: str, pos: int) -> tuple[str | None, int]:
    """`'...'` parts joined by `\\'` (render's quote), from ``pos`` (at a quote)."""
    parts = []
    while True:
        close = text.find("'", pos + 1)
        if close < 0:
            return None, pos
        parts.append(text[pos + 1 : close])
        if not text.startswith("\\''", close + 1):
            return "".join(parts), close + 1
        parts.append("'")
        pos = close + 3
