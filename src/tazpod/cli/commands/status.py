"""`tazpod status`: what tazpod can know about this directory without side effects."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tazpod.cli.context import Context, unapproved_context
from tazpod.cli.ui import UI
from tazpod.engines.base import ContainerInfo
from tazpod.errors import ConfigError, TazpodError
from tazpod.project.config import ProjectConfig
from tazpod.secrets.mappings import SecretsConfig
from tazpod.sysio.environ import in_container

DEFAULTS = {"json": False}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (see the README)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    context = unapproved_context(ui)
    project, config, secrets = context.project, context.config, context.secrets
    trust_state, approved = _trust_state(project.root, config, secrets)
    pod = config.engine == "kubernetes"
    if pod:  # its vault is in the pod's workspace volume, not in this directory
        files = [f"vault file:  in the pod's workspace volume ({config.container_name}-workspace)"]
    else:
        from tazpod.vault.factory import vault_for

        files = vault_for(config.vault, project.vault_dir).describe()
    # The engine (a Kubernetes context, say) is asked only as approved.
    found = _find_container(config) if approved else None
    vault_state = _vault_state(context, approved, found)
    container = _container_state(config, found) if approved else "not asked: settings not approved"
    if getattr(args, "json", False):
        document = _document(context, trust_state, files, vault_state, found, container)
        ui.out.write(json.dumps(document, indent=2) + "\n")
        ui.out.flush()
        return 0
    ui.say(f"project:     {project.root}")
    ui.say(f"config:      {project.config_path}")
    ui.say(f"vertical:    {config.vertical or '(custom image)'}")
    ui.say(f"image:       {config.image}")
    if config.build is not None:
        dockerfile = config.build.dockerfile or f"the {config.vertical} vertical's"
        ui.say(f"build:       {dockerfile} (context {config.build.context})")
    where = (
        f"namespace {config.kubernetes.namespace or '(the context default)'}"
        if pod
        else f"network {config.network}"
    )
    ui.say(f"name:        {config.container_name} on {config.engine}, {where}")
    ui.say(f"user:        {config.user}")
    ui.say(f"settings:    {trust_state}")
    ui.say(f"ghost mode:  {'on' if config.features.ghost_mode else 'off'}")
    vault = config.vault
    ui.say(f"vault:       {vault.backend}, {vault.size_mib} MiB")
    ui.say(f"bridges:     {', '.join(vault.bridges) or '(none)'}")
    for line in files:
        ui.say(f"             {line}" if not line.startswith("vault ") else line)
    ui.say(f"vault state: {vault_state}")
    ui.say(f"container:   {container}")
    if secrets is not None:
        ui.say(f"secrets:     {len(secrets.mappings)} mapped, source {secrets.url}")
        ui.say(
            f"             project {secrets.project_id or '(not set)'}, environment "
            f"{secrets.environment}, path {secrets.secret_path}"
        )
    else:
        ui.say("secrets:     no secrets.yml")
    return 0


def _document(
    context: Context,
    trust_state: str,
    files: list[str],
    vault_state: str,
    found: Found | None,
    container: str,
) -> dict[str, Any]:
    """`tazpod status --json` (version 1 of its shape, in the README)."""
    config, project, secrets = context.config, context.project, context.secrets
    info = found[1] if isinstance(found, tuple) else None
    pod = config.engine == "kubernetes"
    return {
        "version": 1,
        "project": str(project.root),
        "config": str(project.config_path),
        "vertical": config.vertical,
        "image": config.image,
        "build": None
        if config.build is None
        else {"dockerfile": config.build.dockerfile, "context": config.build.context},
        "container_name": config.container_name,
        "engine": config.engine,
        "network": None if pod else config.network,
        "namespace": config.kubernetes.namespace if pod else None,
        "user": config.user,
        "settings": trust_state,
        "ghost_mode": config.features.ghost_mode,
        "vault": {
            "backend": config.vault.backend,
            "size_mib": config.vault.size_mib,
            "bridges": list(config.vault.bridges),
            "files": files,
            "state": vault_state,
        },
        "container": {
            "state": info.state if info is not None else None,
            "image": info.image if info is not None else None,
            "tazpod": info.version if info is not None else None,
            "summary": container,
        },
        "secrets": None
        if secrets is None
        else {
            "mapped": len(secrets.mappings),
            "source": secrets.url,
            "project": secrets.project_id,
            "environment": secrets.environment,
            "path": secrets.secret_path,
        },
    }


def _trust_state(
    root: Path, config: ProjectConfig, secrets: SecretsConfig | None
) -> tuple[str, bool]:
    """What to say of the approval, and whether the settings may be acted on."""
    if in_container():
        return "approved on the host, not here", True
    from tazpod.project import trust

    try:
        approved = trust.load_approved(root)
    except ConfigError as err:
        return f"unknown ({err.message})", False
    if approved is None:
        return "never approved on this machine (tazpod trust)", False
    changed = trust.changes(approved, trust.settings_of(config, secrets))
    if not changed:
        return "approved", True
    keys = ", ".join(key for key, _old, _new in changed)
    return f"changed since approved: {keys} (tazpod trust)", False


Found = tuple[Any, ContainerInfo | None] | str  # (engine, what it found) or why not


def _find_container(config: ProjectConfig) -> Found:
    if in_container():
        return "you are inside it"
    from tazpod.engines import get_engine

    try:
        engine = get_engine(config.engine, config.kubernetes)
        return engine, engine.find(config.container_name)
    except TazpodError as err:
        return f"unknown ({err.message})"


def _vault_state(context: Context, approved: bool, found: Found | None) -> str:
    """The lock here (a container shares the workspace); and, where the container or pod
    runs, root's word there on whether an enclave's door answers (the lock file is the
    user's to rename; a pod's vault is not here at all)."""
    from tazpod.vault.lock import is_locked

    pod = context.config.engine == "kubernetes"
    if not pod and is_locked(context.project.vault_dir):
        return "open (an enclave holds it)"
    if isinstance(found, tuple) and found[1] is not None and found[1].state == "running":
        from tazpod.cli.forwarding import enclave_open_in

        try:
            opened = enclave_open_in(context, found[0], found[1].name)
        except TazpodError as err:
            return f"unknown ({err.message})"
        if opened is None:
            return f"unknown (root in {found[1].name} gave no clear answer)"
        return f"open (an enclave in {found[1].name} holds it)" if opened else "closed"
    if pod:
        return "unknown (the pod is not running)" if approved else "not asked"
    return "closed"


def _container_state(config: ProjectConfig, found: Found | None) -> str:
    if isinstance(found, str) or found is None:
        return found or "not asked"
    _engine, info = found
    if info is None:
        return "not created (tazpod up)"
    state = f"{info.state} ({info.image}, tazpod {info.version or '?'})"
    if info.state != "running" or config.engine == "kubernetes":
        return state
    from tazpod.engines import usermap

    try:
        mapped = usermap.of(found[0], info, config.user).describe()
    except TazpodError as err:
        mapped = f"unknown ({err.message})"
    return f"{state}\nuser ns:     {mapped}"
