"""Which files of a project to copy: .gitignore rules, as git applies them.

Every directory's .gitignore applies below it; the last matching rule wins;
`!` re-includes; a trailing `/` matches directories only; a pattern with a `/`
is anchored to its .gitignore's directory, one without matches a name at any
depth; `*`, `?`, `[...]` and `**` are globs. A directory that is ignored is not
entered (as in git, a file inside it cannot be re-included).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    base: str  # the directory of the .gitignore, relative to the root ("" at the top)
    regex: re.Pattern[str]
    negated: bool
    directories_only: bool
    anchored: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.directories_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        subject = path if self.anchored else path.rsplit("/", 1)[-1]
        return self.regex.fullmatch(subject) is not None


def _glob(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("/.*")
            index += 3
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end].replace("\\", "\\\\")
                out.append(f"[{'^' + body[1:] if body.startswith('!') else body}]")
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def parse(lines: Iterable[str], base: str) -> list[Rule]:
    rules = []
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith("\\"):
            line = line[1:]
        directories_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if line:
            rules.append(Rule(base, re.compile(_glob(line)), negated, directories_only, anchored))
    return rules


def ignored(rules: list[Rule], path: str, is_dir: bool) -> bool:
    verdict = False
    for rule in rules:
        if rule.matches(path, is_dir):
            verdict = not rule.negated
    return verdict


def project_files(root: Path, always_excluded: Iterable[str] = ()) -> Iterator[str]:
    """Paths (relative, directories before their contents) that a copy should carry."""
    excluded = set(always_excluded)
    stack: list[tuple[str, list[Rule]]] = [("", [])]
    while stack:
        relative, inherited = stack.pop()
        directory = root / relative if relative else root
        rules = list(inherited)
        ignore_file = directory / ".gitignore"
        if ignore_file.is_file():
            rules += parse(ignore_file.read_text(errors="replace").splitlines(), relative)
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        subdirectories = []
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if path in excluded or ignored(rules, path, is_dir):
                continue
            yield path
            if is_dir:
                subdirectories.append((path, rules))
        stack.extend(reversed(subdirectories))
