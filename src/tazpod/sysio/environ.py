"""Environments: what a child process inherits, and where this process runs.

Every child's environment is built by ``child_env``. By default it keeps only an
allowlist of harmless names: a loader or interpreter variable (LD_PRELOAD,
PYTHONPATH, ...) set by whoever started tazpod never reaches a program tazpod runs.
A caller that hands the user's whole environment on (the user's own command, their
engine client) says so with ``inherit=Inherit.EVERYTHING`` and a comment saying why.

The markers the enclave and the dev container set are read here too, so that "am I
in the enclave?" has one answer. This module imports only ``os``: it sits on the
`tazpod env` and `tazpod exec` paths.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from typing import Final, Literal

    Inheritance = Literal["allowlist", "everything"]

GHOST_MODE = "TAZPOD_GHOST_MODE"  # "true" in every enclave process (tazpod.enclave.env)
VAULT = "TAZPOD_VAULT"  # the enclave's open vault (its mount point)
PROJECT = "TAZPOD_PROJECT"  # the project the enclave was opened for
APPROVED = "TAZPOD_APPROVED_SETTINGS"  # digest of the settings the enclave's opener checked
CONTAINER = "TAZPOD_CONTAINER"  # "1" in tazpod's dev containers (images and `tazpod up`)

# What any program may see of its caller's environment: where programs are, and how
# to talk to the person (language, time zone, terminal).
BASIC = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")
LOCALE_PREFIXES = ("LC_",)


class Inherit:
    """What a child inherits (plain strings: an Enum class costs this hot path ~0.5 ms)."""

    ALLOWLIST: Final = "allowlist"  # only the allowed names (the default)
    EVERYTHING: Final = "everything"  # the caller's whole environment, on purpose


def child_env(
    overrides: Mapping[str, str] | None = None,
    *,
    allow: Collection[str] = BASIC,
    allow_prefixes: tuple[str, ...] = LOCALE_PREFIXES,
    inherit: Inheritance = Inherit.ALLOWLIST,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A child's environment: the allowed part of ``source`` (default: ours), then ``overrides``."""
    inherited = os.environ if source is None else source
    if inherit == Inherit.EVERYTHING:
        env = dict(inherited)
    else:
        env = {
            name: value
            for name, value in inherited.items()
            if name in allow or name.startswith(allow_prefixes)
        }
    env.update(overrides or {})
    return env


def in_enclave() -> bool:
    """True in a process of an enclave (the one answer; enclaves do not nest)."""
    return os.environ.get(GHOST_MODE) == "true"


def enclave_vault() -> str | None:
    """The open vault of the enclave this process runs in, if it runs in one."""
    return (os.environ.get(VAULT) or None) if in_enclave() else None


def enclave_project() -> str | None:
    """The project root the enclave was opened for, if this process runs in one."""
    return (os.environ.get(PROJECT) or None) if in_enclave() else None


def in_container() -> bool:
    """True inside a tazpod dev container: its images and `tazpod up` set TAZPOD_CONTAINER=1.

    /.dockerenv and friends are not used: sandboxes and VMs carry them too, and
    only tazpod's own containers have the configured user to hand the enclave to.
    """
    return os.environ.get(CONTAINER) == "1"
