"""Per-command grants: which secrets, mapped files and bridges one command may see.

`tazpod run --only NAME[,NAME...]` (or `--profile P`, a named set in secrets.yml) names
them; each name may be a dotenv secret's name, a secrets.yml mapping (its variable, its
secret's name or its file) or a bridge (`~/.gemini`, `.gemini`). A name that matches
nothing is an error that lists what there is: a typo must not run a command with less than
it was meant to have, or make anyone believe a grant was applied.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tazpod.errors import UsageError
from tazpod.secrets.mappings import SecretMapping


def check_grant_name(name: str) -> str:
    bad = not name or name.startswith("-") or not name.isprintable()
    if bad or any(c.isspace() or c in ",=" for c in name):
        raise ValueError(
            f"{name!r} is not a name to grant (no spaces, commas, '=', controls or leading '-')"
        )
    return name


@dataclass(frozen=True)
class Grant:
    """What one command is given; everything else of the vault is out of its sight."""

    asked: tuple[str, ...]
    values: frozenset[str]  # dotenv secrets
    files: frozenset[str]  # mapped files (names in the vault's root)
    bridges: frozenset[str]  # bridge specs as config.yaml writes them

    def label(self) -> str:
        return ",".join(self.asked)


def asked_names(
    only: Sequence[str], profile: str | None, profiles: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The names asked for with --only (repeatable, comma-separated) and --profile; None:
    no grant was asked for (the command sees the whole enclave)."""
    if not only and profile is None:
        return None
    names: list[str] = []
    if profile is not None:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise UsageError(
                f"secrets.yml has no profile {profile!r} (profiles: {known})",
                hint="add it under `profiles:` in secrets.yml, then `tazpod trust`",
            )
        names += profiles[profile]
    for text in only:
        for part in text.split(","):
            try:
                names.append(check_grant_name(part.strip()))
            except ValueError as err:
                raise UsageError(f"--only: {err}", hint="e.g. --only KUBECONFIG,.gemini") from None
    return tuple(dict.fromkeys(names))


def _bridge_names(spec: str) -> set[str]:
    relative = spec[2:] if spec.startswith("~/") else spec
    return {spec, relative, posixpath.basename(relative.rstrip("/"))}


def resolve(
    asked: Iterable[str],
    dotenv_names: Iterable[str],
    mappings: Iterable[SecretMapping],
    bridges: Iterable[str],
) -> Grant:
    dotenv_set = set(dotenv_names)
    mappings = list(mappings)
    bridges = list(bridges)
    values: set[str] = set()
    files: set[str] = set()
    kept: set[str] = set()
    unknown: list[str] = []
    asked = tuple(asked)
    for name in asked:
        found = False
        if name in dotenv_set:
            values.add(name)
            found = True
        for mapping in mappings:
            if name in (mapping.env, mapping.name, mapping.file):
                files.add(mapping.file)
                found = True
        for spec in bridges:
            if name in _bridge_names(spec):
                kept.add(spec)
                found = True
        if not found:
            unknown.append(name)
    if unknown:
        there = sorted(dotenv_set) + sorted(m.env or m.file for m in mappings) + bridges
        raise UsageError(
            f"nothing in the vault is named {', '.join(map(repr, unknown))}",
            hint="grant a dotenv secret, a secrets.yml mapping or a bridge; this vault has: "
            + (", ".join(there) or "nothing yet"),
        )
    return Grant(asked, frozenset(values), frozenset(files), frozenset(kept))
