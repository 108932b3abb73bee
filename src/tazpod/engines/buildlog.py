"""An image build's output as progress a person can follow: its steps, not 500 raw lines.

Docker's and Podman's builders stream every line of every step (apt's included, with
colour codes). tazpod shows the steps (`Step 3/12 : RUN ...`, `STEP 3/12: RUN ...`),
keeps the last lines of the rest for the error message when a step fails, and shows
everything with --debug (TAZPOD_DEBUG=true).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_STEP = re.compile(r"^(?:Step|STEP) \d+/\d+ ?:")
KEEP = 30  # lines of a failed step's output shown in the error
WIDTH = 120


class BuildLog:
    def __init__(self, progress: Callable[[str], None], verbose: bool | None = None) -> None:
        self.progress = progress
        self.verbose = os.environ.get("TAZPOD_DEBUG") == "true" if verbose is None else verbose
        self.recent: deque[str] = deque(maxlen=KEEP)

    def feed(self, text: str) -> None:
        for raw in text.replace("\r", "\n").splitlines():
            line = _ANSI.sub("", raw).rstrip()
            if not line.strip():
                continue
            if _STEP.match(line):
                self.recent.clear()  # what a failure shows is the failing step's output
                self.progress(line if len(line) <= WIDTH else line[: WIDTH - 3] + "...")
            else:
                self.recent.append(line)
                if self.verbose:
                    self.progress(line)

    def failure(self, tag: str, error: str) -> str:
        """The error message for a failed build: what failed and the step's last lines."""
        tail = "\n".join(f"  | {line}" for line in self.recent)
        return f"building {tag} failed: {_ANSI.sub('', error).strip()}" + (
            f"\nthe failing step's last lines:\n{tail}" if tail else ""
        )
