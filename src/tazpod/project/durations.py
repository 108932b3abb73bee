"""Durations in config.yaml (`vault.idle_lock`, `vault.max_open`): `90s`, `30m`, `8h`, `1h30m`.

Stored as whole seconds; `0` (or no value) means off. ``render`` writes seconds back in
the same notation, for messages and `tazpod vault status`.
"""

from __future__ import annotations

import re
from typing import Any

_DURATION_RE = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_EXAMPLES = "write e.g. 90s, 30m, 8h or 1h30m (0 for off)"


def parse(value: Any) -> int | None:
    """Seconds, or None for off (`0`, `0s`); ValueError saying what to write instead."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration, not a boolean; {_EXAMPLES}")
    if isinstance(value, int):
        if value == 0:
            return None
        raise ValueError(f"{value!r} has no unit; {_EXAMPLES}")
    text = str(value).strip()
    if text == "0":
        return None
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{value!r} is not a duration; {_EXAMPLES}")
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    return total or None


def render(seconds: float) -> str:
    """Whole seconds as `1h30m`, `45s`, `2m5s` (`0s` for nothing left)."""
    left = max(0, round(seconds))
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")
