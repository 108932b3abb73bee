"""Dotenv files: tazpod writes `NAME='value'` that any POSIX shell reads back exactly,
reads the vault's files whatever made them, and imports what python-dotenv reads.

Values may hold anything but NUL: quotes, CR, newlines, `$`, backslashes, unicode.
Names may be anything Infisical allows (`my.key`, `db@host`, `1PASSWORD`, `ключ`):
names a shell could mistake are single-quoted like values.

Reading the vault never fails on content: a line that cannot be read is a Problem
(file, line, name; never the value) and is skipped, so a vault always opens.

Which grammar a vault file gets (the rule, also in the README):
- a file whose first line is tazpod's header was written by ``render``: POSIX shell
  single quotes (``dotenv_grammar``'s "tazpod" dialect);
- any other file is read as the Infisical CLI's `export --format=dotenv`, which TazPod
  used and which writes `NAME='value'` without escaping anything: an entry starts at
  each line that begins with `NAME='`, and its value is everything up to the LAST `'`
  before the next such line (or the end of the file). So `it's` and multi-line values
  come back exactly; only a value holding a newline followed by `X='` cannot be told
  from two entries. Lines of such a file that are not in that form are read with the
  python-dotenv grammar.
"""

from __future__ import annotations

import os

from tazpod.secrets.dotenv_parsed import Parsed, Problem, read_rendered
from tazpod.secrets.value import Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

HEADER = "# written by tazpod: do not edit (it is rewritten on every pull)"
# The grammar and its patterns (`re`) load only for files tazpod did not render itself:
# `tazpod env` reads the vault's files on every prompt.
_BARE_NAME = r"[^=#\s'\"\\]+"
_CLI_ENTRY = r"(?:export[^\S\r\n]+)?([^=#\s'\"][^=\s]*)='"

__all__ = [
    "HEADER",
    "Parsed",
    "Problem",
    "parse_import",
    "quote",
    "read_file",
    "read_import",
    "read_text",
    "render",
]


def quote(value: str) -> str:
    """Single-quote for POSIX shells: the only special character inside is the quote."""
    return "'" + value.replace("'", "'\\''") + "'"


def _name(name: str) -> str:
    import re

    if re.fullmatch(_BARE_NAME, name) and not name.startswith("export"):
        return name
    return quote(name)


def render(values: Mapping[str, Secret]) -> str:
    lines = [HEADER]
    for name in sorted(values):
        lines.append(f"{_name(name)}={quote(values[name].reveal())}")
    return "\n".join(lines) + "\n"


def read_text(text: str, origin: str) -> Parsed:
    """A vault file's content (see the module's rule for which grammar applies)."""
    parsed = Parsed()
    rendered = read_rendered(text, HEADER)
    if rendered is not None:
        parsed.values = {name: Secret(value) for name, value in rendered.items()}
        return parsed
    import re

    from tazpod.secrets.dotenv_grammar import Reader

    reader = Reader(text, origin, "tazpod", parsed)
    if text.startswith(HEADER.split(":", 1)[0]):
        reader.read(0, len(text))
        return parsed
    reader.dialect = "dotenv"
    starts = list(re.finditer(_CLI_ENTRY, text, re.MULTILINE))
    reader.read(0, starts[0].start() if starts else len(text))
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        body = text[match.end() : end].rstrip()
        if body.endswith("'"):
            name, value = match.group(1), body[:-1]
            if "\0" in value or any("\udc80" <= c <= "\udcff" for c in name + value):
                line = reader.line_at(match.start())
                parsed.problems.append(Problem(origin, line, name, "holds bytes no variable can"))
                continue
            parsed.values[name] = Secret(value)
        else:
            reader.read(match.start(), end)
    return parsed


def _read_bytes(path: str | os.PathLike[str]) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_file(path: str | os.PathLike[str]) -> Parsed:
    """A vault file, byte-exact (CR survives); a missing file is empty. OSError propagates."""
    data = _read_bytes(path)
    if data is None:
        return Parsed()
    return read_text(data.decode("utf-8", "surrogateescape"), os.fspath(path))


def parse_import(text: str, origin: str) -> Parsed:
    """A .env file to import, read as python-dotenv reads it (notes where a shell differs)."""
    from tazpod.secrets.dotenv_grammar import Reader

    parsed = Parsed()
    text = text.removeprefix("\ufeff")
    Reader(text, origin, "dotenv", parsed).read(0, len(text))
    return parsed


def read_import(path: str | os.PathLike[str]) -> Parsed:
    data = _read_bytes(path)
    if data is None:
        raise FileNotFoundError(path)
    return parse_import(data.decode("utf-8", "surrogateescape"), os.fspath(path))
