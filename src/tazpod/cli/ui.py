"""Terminal output for the CLI layer: results on stdout, diagnostics on stderr.

Diagnostics follow age's rule: `tazpod: ` prefix, lowercase, separate
`hint:` lines. Services never print; they hand messages to the CLI.
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
        print(text, file=self.out, flush=True)

    def info(self, text: str) -> None:
        self._diagnostic("tazpod: ", text)

    def warn(self, text: str) -> None:
        self._diagnostic("tazpod: warning: ", text)

    def error(self, text: str, hint: str | None = None) -> None:
        self._diagnostic("tazpod: ", text)
        if hint:
            for line in hint.splitlines():
                print(f"hint: {line}", file=self.err, flush=True)

    def _diagnostic(self, prefix: str, text: str) -> None:
        """Every line prefixed, so a multi-line message still reads as tazpod's."""
        lines = text.splitlines() or [""]
        body = "".join(
            f"{prefix if i == 0 else 'tazpod: '}{line}\n" for i, line in enumerate(lines)
        )
        self.err.write(body)
        self.err.flush()
