"""A check's result, and the report's stable JSON shape (documented in the README)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

OK = "ok"
WARN = "warn"
FAIL = "fail"
SKIPPED = "skipped"
STATES = (OK, WARN, FAIL, SKIPPED)


@dataclass(frozen=True)
class Check:
    """One check: what was looked at (``name``), what was found, why it matters, the fix.

    ``explanation`` says what was found and why it matters; ``fix`` is a command or a
    configuration change (empty when there is nothing to fix); a skipped check says why
    in ``explanation``.
    """

    name: str
    state: str
    explanation: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "state": self.state,
            "explanation": self.explanation,
            "fix": self.fix,
        }


def ok(name: str, explanation: str) -> Check:
    return Check(name, OK, explanation)


def warn(name: str, explanation: str, fix: str) -> Check:
    return Check(name, WARN, explanation, fix)


def fail(name: str, explanation: str, fix: str) -> Check:
    return Check(name, FAIL, explanation, fix)


def skipped(name: str, reason: str) -> Check:
    return Check(name, SKIPPED, reason)


def failed(checks: Sequence[Check]) -> bool:
    return any(check.state == FAIL for check in checks)


def counts(checks: Sequence[Check]) -> dict[str, int]:
    return {state: sum(1 for c in checks if c.state == state) for state in STATES}


def report_json(project: str, engine: str, container: str | None, checks: Sequence[Check]) -> Any:
    """The document `tazpod doctor --json` prints (version 1 of its shape)."""
    return {
        "version": 1,
        "project": project,
        "engine": engine,
        "container": container,
        "ok": not failed(checks),
        "counts": counts(checks),
        "checks": [check.as_json() for check in checks],
    }
