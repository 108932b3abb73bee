"""Terminal output for the CLI layer: results on stdout, diagnostics on stderr.

Diagnostics follow age's rule: `tazpod: ` prefix, lowercase, separate
`hint:` lines. Services never print; they hand messages to the CLI.

Messages quote files that others can write (a config key, a Dockerfile's step, a
secret's name), so every character a terminal could act on is shown escaped (`\x1b`,
`\u202e`): an escape sequence in a planted key must not redraw what the user reads
before approving it. Only `tazpod env` writes raw text, and never to a terminal.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import TextIO


class UI:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def say(self, text: str = "") -> None:
        self.out.write("".join(f"{shown(line)}\n" for line in _lines(text)))
        self.out.flush()

    def info(self, text: str) -> None:
        self._diagnostic("tazpod: ", text)

    def warn(self, text: str) -> None:
        self._diagnostic("tazpod: warning: ", text)

    def error(self, text: str, hint: str | None = None) -> None:
        self._diagnostic("tazpod: ", text)
        if hint:
            self.err.write("".join(f"hint: {shown(line)}\n" for line in _lines(hint)))
            self.err.flush()

    def _diagnostic(self, prefix: str, text: str) -> None:
        """Every line prefixed, so a multi-line message still reads as tazpod's."""
        lines = _lines(text)
        body = "".join(
            f"{prefix if i == 0 else 'tazpod: '}{shown(line)}\n" for i, line in enumerate(lines)
        )
        self.err.write(body)
        self.err.flush()


def _lines(text: str) -> list[str]:
    """Lines at "\n" only: str.splitlines would also break at U+2028, NEL, VT, FF, ...,
    which planted text could use to start lines of its own (they are escaped instead)."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def shown(line: str) -> str:
    """One line as the terminal must show it: whatever it could act on, escaped."""
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() or c == "\t" else _escape(c) for c in line)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
