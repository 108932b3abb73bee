"""Which of the pod's archive members `workspace pull` may write here, and which not.

Decided from the member alone (the writer, tazpod.engines.kubernetes.receive, adds what
depends on this host's files). The pod's user makes the archive: see that module.
"""

from __future__ import annotations

import tarfile

NEVER = ".tazpod"
MAX_DEPTH = 64
MAX_NAME = 4096
# Of a .git directory, with `--git`: what git reads as data (no code, no redirection).
GIT_FILES = frozenset({"HEAD", "ORIG_HEAD", "FETCH_HEAD", "packed-refs"})
GIT_DIRS = frozenset({"objects", "refs", "logs"})
# Code points HFS+ ignores in names, and NTFS's short name: `.git` in disguise on
# file systems that fold them (git refuses the same, utf8.c and path.c).
_IGNORED = frozenset(
    chr(c)
    for c in (
        *range(0x200C, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x206A, 0x2070),
        0xFEFF,
    )
)
# Names whose content configures or runs git when the directory holding them (or one
# above) is a repository (holds a HEAD): never written there.
GIT_DIR_NAMES = frozenset({"config", "config.worktree", "commondir", "gitdir", "hooks", "info"})


def folded(part: str) -> str:
    """A name as a case-folding file system (and git's own checks) would see it."""
    kept = "".join(ch for ch in part if ch not in _IGNORED)
    return kept.rstrip(". ").casefold()


def is_special(part: str, name: str) -> bool:
    base = name.lstrip(".")
    return folded(part) in (name, f"{base[:6]}~1")


def _git_problem(parts: list[str], member: tarfile.TarInfo, with_git: bool) -> str | None:
    for index, part in enumerate(parts):
        if not is_special(part, ".git"):
            continue
        if not with_git:
            return "git's data stays in the pod unless asked (`tazpod workspace pull --git`)"
        if part != ".git" or index != 0:
            return "a .git below the project's root (or spelled otherwise) is left in the pod"
        rest = parts[index + 1 :]
        if not rest:
            return None if member.isdir() else "a .git that is no directory points git elsewhere"
        if member.issym():
            return "a link inside .git"
        if rest[0] == "objects" and rest[1:2] == ["info"]:
            return "git's objects/info (alternates, grafts) redirect or rewrite history"
        if rest[0] == "refs" and rest[1:2] == ["replace"]:
            return "replace refs would make git show other commits than the real ones"
        if rest[0] in GIT_DIRS or (len(rest) == 1 and rest[0] in GIT_FILES):
            return None
        return (
            "git's own settings, hooks, index and info files run code or hide changes here"
            " (core.fsmonitor, hooks, an index that makes `git status` lie)"
        )
    return None


def problem(name: str, member: tarfile.TarInfo, with_git: bool) -> str | None:
    """Why ``member`` (normalised ``name``) is left out, or None."""
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or name in ("", "."):
        return "an absolute name, or one with '..'"
    if "\0" in name or len(name) > MAX_NAME or len(parts) > MAX_DEPTH:
        return f"a name with a NUL, longer than {MAX_NAME} or deeper than {MAX_DEPTH}"
    if is_special(parts[0], NEVER):
        return "tazpod's settings and vault stay as this host has them"
    if member.issparse():
        return "a sparse file (a few bytes of archive could fill the disk)"
    if not (member.isreg() or member.isdir() or member.issym()):
        return "not a file, directory or symbolic link"
    if member.issym():
        target = member.linkname
        steps = target.split("/")
        if not target or "\0" in target or target.startswith("/") or {"", ".", ".."} & set(steps):
            return f"a link to {target!r}: only links that lead down (no '.', '..') are made"
    if not is_special(parts[0], ".git") and folded(parts[-1]) == "head":
        return "a HEAD outside .git would make its directory a git repository (config runs)"
    return _git_problem(parts, member, with_git)


def git_named(parts: list[str]) -> bool:
    """Whether a path goes through one of git's own names (config, hooks/, info/, ...)."""
    return any(part in GIT_DIR_NAMES for part in parts)
