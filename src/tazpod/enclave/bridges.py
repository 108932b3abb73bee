"""Bridges: home directories kept inside the vault, bind-mounted over their vault copy.

TazPod's three bridges keep TazPod's vault names (`.infisical-vault`,
`.infisical-keyring`, `.gemini-vault`) so its vaults open unchanged; others
live under `.bridges/`. The first time a bridge opens, plaintext found at its home
path is merged into the vault (never overwriting the vault's copy: a differing
file is kept beside it as `NAME.outside`), and only removed from disk after a save
that contains it succeeded. After that the home path, outside the enclave, is a
directory any session of the user can write: what appears there later is never
taken in (it would put a planted config into the enclave), only named. Links
that point out of the bridge stay out too (a sealed vault holds no such link). A
top-level `.gitignore` stays where it is: it keeps the directory out of git and
holds nothing secret.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tazpod.errors import ConfigError
from tazpod.project.paths import expand_home

TAZPOD_NAMES = {
    "~/.infisical": ".infisical-vault",
    "~/infisical-keyring": ".infisical-keyring",
    "~/.gemini": ".gemini-vault",
}
OUTSIDE_SUFFIX = ".outside"


@dataclass(frozen=True)
class Bridge:
    spec: str  # as configured, e.g. ~/.aws
    home_path: Path
    vault_name: str  # relative to the vault root


def vault_name(spec: str) -> str:
    if spec in TAZPOD_NAMES:
        return TAZPOD_NAMES[spec]
    return ".bridges/" + spec[2:].replace("/", "__")


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def plan_bridges(specs: tuple[str, ...], home: Path, vault_root: Path) -> list[Bridge]:
    bridges = []
    for spec in specs:
        home_path = expand_home(spec, home)
        if _inside(home_path, vault_root) or _inside(vault_root, home_path):
            raise ConfigError(
                f"bridge {spec} ({home_path}) overlaps the vault mount point {vault_root}",
                hint="a bridge must be outside the vault and must not contain it",
            )
        bridges.append(Bridge(spec, home_path, vault_name(spec)))
    for first in bridges:
        for second in bridges:
            if first is not second and _inside(first.home_path, second.home_path):
                raise ConfigError(f"bridges {first.spec} and {second.spec} overlap")
    return bridges


def _merge_file(source: Path, target: Path) -> bool:
    """Copy one file or link into the vault; True when the outside copy may go."""
    if os.path.lexists(target):
        if source.is_symlink() or target.is_symlink():
            same = (
                source.is_symlink()
                and target.is_symlink()
                and (os.readlink(source) == os.readlink(target))
            )
        else:
            same = filecmp.cmp(source, target, shallow=False)
        if same:
            return True
        target = target.with_name(target.name + OUTSIDE_SUFFIX)
        if os.path.lexists(target):
            return False  # an earlier conflict is still unresolved: leave this one alone
    shutil.copy2(source, target, follow_symlinks=False)
    return True


@dataclass
class Migration:
    movable: list[Path]  # merged into the vault: removed after the save that holds them
    left: list[Path]  # found but not taken in (see the module's docstring)


def migrate(home_path: Path, vault_copy: Path) -> Migration:
    """Merge plaintext at ``home_path`` into ``vault_copy`` the first time; say what stayed.

    Runs as the user. Only regular files, directories and links within the bridge move;
    anything else (sockets, fifos) stays where it is.
    """
    first_time = not os.path.lexists(vault_copy)
    vault_copy.mkdir(mode=0o700, parents=True, exist_ok=True)
    if home_path.is_symlink() or not home_path.is_dir():
        return Migration([], [])
    found = _found(home_path)
    if not first_time:
        return Migration([], found)
    movable: list[Path] = []
    left: list[Path] = []
    for directory, dirnames, filenames in os.walk(home_path):
        here = Path(directory)
        target_dir = vault_copy / here.relative_to(home_path)
        for name in dirnames:
            source = here / name
            if source.is_symlink():
                filenames.append(name)
                continue
            (target_dir / name).mkdir(mode=source.stat().st_mode & 0o7777, exist_ok=True)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in filenames:
            if here == home_path and name == ".gitignore":
                continue  # repository hygiene (tazpod init's .gemini/.gitignore), not a secret
            source = here / name
            if source.is_symlink() and not _link_within(source, home_path):
                left.append(source)
            elif (source.is_file() or source.is_symlink()) and _merge_file(
                source, target_dir / name
            ):
                movable.append(source)
    return Migration(movable, left)


def _link_within(link: Path, top: Path) -> bool:
    """A relative link whose target stays inside ``top`` (what a sealed vault may hold)."""
    target = os.readlink(link)
    if target.startswith("/"):
        return False
    joined = os.path.normpath(os.path.join(os.path.dirname(link), target))
    return _inside(Path(joined), top)


def _found(home_path: Path) -> list[Path]:
    """Every file or link under ``home_path`` but the top-level .gitignore."""
    found = []
    for directory, dirnames, filenames in os.walk(home_path):
        here = Path(directory)
        links = [d for d in dirnames if (here / d).is_symlink()]
        dirnames[:] = [d for d in dirnames if d not in links]
        for name in [*filenames, *links]:
            if not (here == home_path and name == ".gitignore"):
                found.append(here / name)
    return found


def remove_migrated(paths: list[Path], home_path: Path) -> None:
    """After a successful save: delete the migrated plaintext, then empty directories."""
    for path in paths:
        if _inside(path, home_path) and (path.is_symlink() or path.is_file()):
            path.unlink()
    for directory, _dirs, _files in sorted(os.walk(home_path), reverse=True):
        if Path(directory) != home_path:
            with contextlib.suppress(OSError):  # not empty: something stayed behind
                os.rmdir(directory)
