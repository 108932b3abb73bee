"""Approval of a project's settings, kept on the host where no container can write it.

`.tazpod/config.yaml` and `secrets.yml` live in the workspace, which the dev container
(and every commit) can change. The config decides what the host builds and runs and what
root does in the container; secrets.yml decides which secrets land in the vault, in which
files and variables. tazpod acts on both only as the user approved them, like direnv's
`allow`. The approval is a copy of the parsed settings in the user's state directory on
the host (`~/.local/state/tazpod/approved/`), one file per project; a change shows as old
and new values per key. Inside the container, root-side tazpod gets the digest of the
approved settings from the host with each forwarded command and refuses files that differ;
an enclave keeps the digest its opener checked, for the commands run inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from tazpod.errors import ConfigError
from tazpod.project.config import ProjectConfig
from tazpod.project.locate import Project
from tazpod.project.schema import HOOK_STAGES
from tazpod.sysio import environ


class SecretsConfig(Protocol):
    """secrets.yml as parsed (tazpod.secrets.mappings; named here, not imported: the
    project layer sits below secrets)."""

    def approval_settings(self) -> dict[str, str]: ...


Settings = dict[str, str]  # dotted key -> the value as JSON
APPROVED_OPTION = "--approved-settings="  # tazpod.cli.main reads it (host -> container root)
APPROVE_HINT = "review the changes, then run `tazpod trust` on the host to approve them"


class UntrustedConfigError(ConfigError):
    """The project's settings are not (or no longer) the ones the user approved."""


def settings_of(config: ProjectConfig, secrets: SecretsConfig | None = None) -> Settings:
    """Every setting of the parsed config and secrets.yml, flattened (comments don't count).

    secrets.yml's keys start with `secrets.yml:`; each mapping is one setting, keyed by
    the vault file it writes (file names are unique, secret names need not be).
    """
    flat: Settings = {}
    if secrets is not None:
        flat.update(secrets.approval_settings())

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and prefix not in _LEAF_MAPS:
            for key in sorted(value):
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        elif value is not None and not (prefix in _SINCE_LATER and value in ({}, [], ())):
            # (unset: shown as "(not set)", never as a null beside it)
            flat[prefix] = json.dumps(value, sort_keys=True)

    walk("", asdict(config))
    return flat


# Mappings that are one setting each (a changed resource limit is shown whole).
_LEAF_MAPS = frozenset({"kubernetes.resources", "kubernetes.node_selector"})
# Settings added after approvals were first kept: left out while empty, so that an
# approval made before they existed still holds (a value then shows as "(not set) -> ...").
_SINCE_LATER = frozenset(
    {"environment", "mounts", "forward_ports", "devcontainer_features"}
    | {f"hooks.{stage}" for stage in HOOK_STAGES}
)


def digest(settings: Settings) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def state_dir() -> Path:
    """The approving user's state directory: under sudo the caller's, never root's."""
    sudo_uid = os.environ.get("SUDO_UID")
    if os.geteuid() == 0 and sudo_uid and sudo_uid != "0":
        return Path(pwd.getpwuid(int(sudo_uid)).pw_dir) / ".local" / "state" / "tazpod"
    # The passwd entry, not $HOME: `setpriv`/`su` without -l keep the caller's HOME.
    home = pwd.getpwuid(os.getuid()).pw_dir
    chosen = os.environ.get("XDG_STATE_HOME")
    vault = environ.enclave_vault()
    if chosen and vault and (chosen == vault or chosen.startswith(vault.rstrip("/") + "/")):
        chosen = None  # an enclave's shell keeps its state in the vault (enclave.shellstate)
    base = chosen or os.path.join(home, ".local", "state")
    return Path(base) / "tazpod"


def approval_path(root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    return state_dir() / "approved" / f"{key}.json"


def _check_outside(root: Path, path: Path) -> None:
    real_root, real_path = root.resolve(), path.parent.resolve()
    if real_path == real_root or real_root in real_path.parents:
        raise ConfigError(
            f"the approval of this project's settings would be kept in {path.parent}, which is"
            f" inside the project {root} that its container mounts",
            hint="keep projects in a directory of their own, not your home directory itself,"
            " or set XDG_STATE_HOME outside the project",
        )


def _load(root: Path) -> dict[str, Any] | None:
    path = approval_path(root)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"{path}: the approval of this project's settings is unreadable",
            hint="run `tazpod trust` to approve the current settings again",
        ) from err
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict) or data.get("project") != str(root.resolve()):
        raise ConfigError(f"{path}: not an approval of {root}", hint="run `tazpod trust`")
    return data  # type: ignore[no-any-return]


def load_approved(root: Path) -> Settings | None:
    data = _load(root)
    return None if data is None else {str(k): str(v) for k, v in data["settings"].items()}


def load_approved_build(root: Path) -> dict[str, str] | None:
    """The approved digests of a custom image's Dockerfile and context (build_files)."""
    data = _load(root)
    files = data.get("build_files") if data is not None else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else None


def approve(
    root: Path,
    config: ProjectConfig,
    secrets: SecretsConfig | None,
    build_files: dict[str, str] | None = None,
) -> Path:
    """Record the current settings as approved (init does this for what it writes).

    ``build_files``: a custom image's Dockerfile and context (tazpod.project.build_files).
    """
    from tazpod.sysio.files import write_atomic

    path = approval_path(root)
    _check_outside(root, path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings = settings_of(config, secrets)
    payload: dict[str, Any] = {"version": 1, "project": str(root.resolve()), "settings": settings}
    if build_files is not None:
        payload["build_files"] = build_files
    write_atomic(path, json.dumps(payload, indent=1).encode(), mode=0o600)
    _chown_to_sudo_caller(path)
    return path


def _chown_to_sudo_caller(path: Path) -> None:
    """Under sudo the approval belongs to the caller, like the rest of their state."""
    sudo_uid, sudo_gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if os.geteuid() != 0 or not sudo_uid or not sudo_gid or sudo_uid == "0":
        return
    for target in (path, path.parent, path.parent.parent):
        os.chown(target, int(sudo_uid), int(sudo_gid))


def changes(approved: Settings | None, current: Settings) -> list[tuple[str, str, str]]:
    """(key, approved value, current value) for every setting that differs."""
    before = approved or {}
    keys = sorted(set(before) | set(current))
    missing = "(not set)"
    return [
        (key, before.get(key, missing), current.get(key, missing))
        for key in keys
        if before.get(key) != current.get(key)
    ]


def describe(root: Path, approved: Settings | None, current: Settings) -> str:
    project = Project(root)
    files = f"{project.config_path}" + (
        f" and {project.secrets_path}" if project.secrets_path.is_file() else ""
    )
    if approved is None:
        head = f"{files}: this project's settings were never approved on this machine"
        rows = [(key, "", value) for key, value in sorted(current.items())]
        return head + "\n" + "\n".join(f"  {key}: {new}" for key, _old, new in rows)
    head = f"{files}: these settings changed since you approved them"
    rows = changes(approved, current)
    return head + "\n" + "\n".join(f"  {key}: {old} -> {new}" for key, old, new in rows)


def check(root: Path, config: ProjectConfig, secrets: SecretsConfig | None) -> None:
    """Refuse settings the user has not approved (host side)."""
    approved = load_approved(root)
    current = settings_of(config, secrets)
    if approved != current:
        raise UntrustedConfigError(describe(root, approved, current), hint=APPROVE_HINT)


def check_digest(
    root: Path, config: ProjectConfig, secrets: SecretsConfig | None, expected: str | None
) -> None:
    """Root in the container: act only on the settings whose digest the host approved."""
    if expected is None:
        raise UntrustedConfigError(
            f"{Project(root).config_path}: root in the container acts only on settings"
            " approved on the host, and none came with this command",
            hint="run the command on the host (`tazpod unlock`, `tazpod run`, ...): it enters"
            " the container with the digest of the settings you approved",
        )
    if digest(settings_of(config, secrets)) != expected:
        project = Project(root)
        raise UntrustedConfigError(
            f"{project.config_path} or {project.secrets_path} was changed inside the"
            " container: its settings are not the ones approved on the host",
            hint=APPROVE_HINT,
        )


def check_in_enclave(root: Path, config: ProjectConfig, secrets: SecretsConfig | None) -> None:
    """Inside an enclave: the digest its opener checked, where the opener left one (a dev
    container's enclave: no approval store there); else (a host's) the approval itself.
    An enclave's environment is its own: no session outside it can set or change it."""
    expected = os.environ.get(environ.APPROVED)
    if expected is not None:
        check_enclave_digest(root, config, secrets, expected)
    else:
        check(root, config, secrets)


def check_enclave_digest(
    root: Path, config: ProjectConfig, secrets: SecretsConfig | None, expected: str
) -> None:
    """In a container's enclave: act only on the settings its opener checked."""
    if digest(settings_of(config, secrets)) == expected:
        return
    project = Project(root)
    raise UntrustedConfigError(
        f"{project.config_path} or {project.secrets_path} changed since this enclave was"
        " opened: its settings are not the ones approved on the host",
        hint="review the changes and run `tazpod trust` on the host, then leave the enclave"
        " and open it again (`tazpod lock`, `tazpod unlock`)",
    )
