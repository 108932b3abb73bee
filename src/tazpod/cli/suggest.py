"""'Did you mean ...?' for a mistyped command, option or choice (only on the error path)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(argparse_message: str) -> str | None:
    """The hint for argparse's "invalid choice" message, if one choice is close."""
    found = _INVALID_CHOICE.search(argparse_message)
    if found is None:
        return None
    choices = re.findall(r"'([^']*)'", found.group(2))
    match = closest(found.group(1), choices)
    return f"did you mean {match!r}?" if match else None
