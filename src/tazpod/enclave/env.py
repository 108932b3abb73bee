"""The enclave process's environment, built on purpose from an allowlist.

secrets.yml mappings become variables holding the *path* of the secret's
file in the vault (as TazPod); the vault's dotenv secrets (pulled or set)
come as their delivery mode says (tazpod.secrets.delivery) — the same set
`eval "$(tazpod env)"` gives a shell.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from tazpod.enclave.shellstate import state_environment
from tazpod.enclave.user import EnclaveUser
from tazpod.secrets.shell import usable_name
from tazpod.sysio import environ
from tazpod.sysio.environ import child_env

PASSTHROUGH = (
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "TZ",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "NO_COLOR",
    "TAZPOD_DEBUG",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _path(inherited: str | None, user: EnclaveUser, project_root: Path) -> str:
    """The caller's PATH, with the directory of this tazpod first (for `tazpod lock`).

    Directories in the user's home or the project are left out, whatever their name says
    (a link into the home counts as the home): any session of the user (or a commit) can
    put a program there that the enclave would run by its name. That goes for tazpod's
    own directory too: a venv in the home is not put first.
    """
    import os

    shared = [os.path.realpath(p) for p in (user.home, project_root)]

    def safe(entry: str) -> bool:
        real = os.path.realpath(entry)
        return entry.startswith("/") and not any(
            real == s or real.startswith(s + "/") for s in shared
        )

    tazpod_bin = str(Path(sys.argv[0]).absolute().parent) if sys.argv and sys.argv[0] else ""
    entries = [e for e in (inherited or DEFAULT_PATH).split(":") if safe(e)]
    if (
        tazpod_bin
        and safe(tazpod_bin)
        and Path(tazpod_bin, "tazpod").exists()
        and tazpod_bin not in entries
    ):
        entries.insert(0, tazpod_bin)
    return ":".join(entries)


def enclave_environment(
    inherited: Mapping[str, str],
    user: EnclaveUser,
    vault_dir: Path,
    project_root: Path,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``secrets``: the variables the vault gives this command (tazpod.enclave.command:
    values delivered as variables, and paths of mapped and value files)."""
    env = child_env(allow=PASSTHROUGH, source=inherited)  # PATH is rebuilt below
    for name, value in (secrets or {}).items():
        if usable_name(name):
            env[name] = value
    env.update(
        HOME=str(user.home),
        USER=user.name,
        LOGNAME=user.name,
        SHELL=user.shell,
        PATH=_path(inherited.get("PATH"), user, project_root),
    )
    env[environ.GHOST_MODE] = "true"  # the marker environ.in_enclave() answers from
    env[environ.VAULT] = str(vault_dir)
    env[environ.PROJECT] = str(project_root)
    env.update(state_environment(vault_dir, user.shell))
    return env
