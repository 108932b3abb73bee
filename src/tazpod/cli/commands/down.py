"""`tazpod down`: remove the container; the workspace and the vault stay on disk."""

from __future__ import annotations

import argparse

from tazpod.cli.context import Context, load_context
from tazpod.cli.forwarding import enclave_open_in, engine_for, require_host
from tazpod.cli.ui import UI
from tazpod.engines.base import ContainerInfo, Engine
from tazpod.errors import UsageError, VaultBusyError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purge", action="store_true", help="kubernetes: also delete the workspace volume"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="remove the container even while an enclave in it holds the vault open",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import check_owned

    require_host()
    context = load_context(ui)
    engine = engine_for(context)
    info = engine.find(context.config.container_name)
    if info is None:
        if args.purge and context.config.engine == "kubernetes":
            engine.remove(context.config.container_name, purge=True)
            kept = getattr(engine, "purge_note", None)
            gone = (
                f"its workspace claim was deleted; {kept}"
                if kept
                else "its workspace volume was deleted"
            )
            ui.say(f"{context.config.container_name}: no pod; {gone}")
            return 0
        ui.say(f"{context.config.container_name}: no such container (nothing to do)")
        return 0
    check_owned(info, context.project)
    if args.purge and context.config.engine != "kubernetes":
        raise UsageError(
            "--purge is for engine: kubernetes (its workspace volume)",
            hint="with Docker and Podman the workspace is this directory; nothing to purge",
        )
    _refuse_open_enclave(context, engine, info, args.force)
    engine.remove(info.name, purge=args.purge)
    kept = getattr(engine, "purge_note", None)
    if args.purge and kept:
        ui.say(f"{info.name}: removed, with its workspace claim; {kept}")
    elif args.purge:
        ui.say(f"{info.name}: removed, with its workspace volume (and the vault in it)")
    else:
        ui.say(f"{info.name}: removed (workspace and vault kept)")
    return 0


def _refuse_open_enclave(
    context: Context, engine: Engine, info: ContainerInfo, force: bool
) -> None:
    """Removing the container kills an open enclave in it before it saves: say so first.

    The vault's lock is an flock on a file of the workspace, which a container shares:
    the host sees it held. A same-uid process in the container can rename that file,
    though, and a pod's vault is in its own volume: so root in the running container is
    also asked whether an enclave's door answers there (`tazpod lock --check`); no clear
    answer is not taken for "closed".
    """
    from tazpod.vault.lock import is_locked

    if force:
        return
    local = context.config.engine != "kubernetes" and is_locked(context.project.vault_dir)
    asked = enclave_open_in(context, engine, info.name) if info.state == "running" else False
    if local or asked:
        raise VaultBusyError(
            f"the vault is open in an enclave in {info.name}: removing it now loses what was"
            " changed there since its last save",
            hint="close the enclave first (`tazpod lock` saves and closes it), then"
            " `tazpod down`; `tazpod down --force` removes it anyway",
        )
    if asked is None:
        raise VaultBusyError(
            f"cannot tell whether an enclave holds the vault open in {info.name} (root there"
            " gave no clear answer to `tazpod lock --check`)",
            hint="`tazpod lock` closes one if it is open; `tazpod down --force` removes the"
            " container anyway",
        )
