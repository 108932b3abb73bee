"""Rendering the enclave's variables for `eval "$(tazpod env)"`.

Every value is single-quoted (nothing inside single quotes is special to a
POSIX shell but the quote itself, which is escaped), names are checked to be
shell identifiers, and the output refuses to go to a terminal: secrets are
for the shell's memory, not for a screen or a scrollback buffer.
"""

from __future__ import annotations

from tazpod.secrets.dotenv import quote
from tazpod.secrets.reserved import is_identifier, is_reserved
from tazpod.secrets.value import Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class EnvPlan:
    """What `tazpod env` prints. A plain class: dataclasses cost start-up time here."""

    def __init__(self) -> None:
        self.exports: dict[str, str] = {}  # variable -> a file's path (not secret)
        self.secrets: dict[str, Secret] = {}
        self.unset: list[str] = []
        self.skipped: list[str] = []  # names that cannot be variables
        self.problems: list[str] = []  # lines of the vault's files that could not be read
        self.value_files: dict[str, Secret] = {}  # delivered as files: name -> value
        self.fifo: dict[str, Secret] = {}  # delivered through the command's one-shot FIFO
        self.sources = ""  # the dotenv files' identity before they were read (value_files)


def usable_name(name: str) -> bool:
    return skip_reason(name) is None


def skip_reason(name: str) -> str | None:
    """Why a secret is kept in the vault but not exported as a variable (None: it is)."""
    if not is_identifier(name):
        return "not a shell variable name"
    if is_reserved(name):
        return "reserved: it would change how programs start"
    return None


def skipped_notice(names: Iterable[str]) -> str | None:
    """One line naming every secret not exported, grouped by why; None when there is none."""
    by_reason: dict[str, list[str]] = {}
    for name in sorted(names):
        reason = skip_reason(name)
        if reason is not None:
            by_reason.setdefault(reason, []).append(name)
    if not by_reason:
        return None
    groups = "; ".join(f"{', '.join(n)} ({why})" for why, n in sorted(by_reason.items()))
    return f"kept in the vault but not exported as variables: {groups}"


def plan(values: Mapping[str, Secret], files: Mapping[str, str], missing: list[str]) -> EnvPlan:
    """``values``: secrets as variables; ``files``: variable -> path; ``missing``: to unset."""
    result = EnvPlan()
    for name in sorted(values):
        if usable_name(name):
            result.secrets[name] = values[name]
        else:
            result.skipped.append(name)
    result.exports.update(files)
    result.unset = sorted(set(missing) - set(files))
    return result


def render(env: EnvPlan) -> str:
    lines = [f"export {name}={quote(secret.reveal())}" for name, secret in env.secrets.items()]
    lines += [f"export {name}={quote(path)}" for name, path in sorted(env.exports.items())]
    lines += [f"unset {name}" for name in env.unset]
    return "\n".join(lines) + ("\n" if lines else "")


def as_environment(env: EnvPlan) -> dict[str, str]:
    out = {name: secret.reveal() for name, secret in env.secrets.items()}
    out.update(env.exports)
    return out
