"""`tazpod up`: build the image if needed and start the project's container (idempotent)."""

from __future__ import annotations

from tazpod.cli.context import Context, load_context
from tazpod.cli.forwarding import engine_for, require_host
from tazpod.cli.ui import UI

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse  # (annotations only: argparse is built only when arguments come)

# What `configure` gives a bare `tazpod up` (it then builds no parser: tests/unit pins it).
DEFAULTS = {"replace": False, "force": False}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replace", action="store_true", help="recreate the container")
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --replace: even while an enclave in it holds the vault open",
    )


def _already_running(context: Context, ui: UI) -> bool:
    """The daily case, answered by the engine's socket alone (no Docker SDK import)."""
    from tazpod import __version__
    from tazpod.cli.forwarding import session_engine_for
    from tazpod.engines.devcontainer import check_owned

    if context.config.engine == "kubernetes":
        return False  # (its `up` also seeds the pod's workspace)
    info = session_engine_for(context).find(context.config.container_name)
    if info is None or info.state != "running" or info.version != __version__:
        return False  # to create, restart or replace: the full engine says what and why
    check_owned(info, context.project)
    ui.say(f"{info.name}: already running ({info.image})")
    ui.say("next: `tazpod ssh` for a shell, `tazpod unlock` for the enclave")
    return True


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import check_owned, up

    require_host()
    if args.force and not args.replace:
        from tazpod.errors import UsageError

        raise UsageError("--force goes with --replace", hint="tazpod up --replace --force")
    context = load_context(ui, offer_import=True)  # (a devcontainer.json only: asks)
    if not args.replace and _already_running(context, ui):
        return 0
    engine = engine_for(context)
    if args.replace:
        from tazpod.cli.forwarding import refuse_open_enclave

        existing = engine.find(context.config.container_name)
        if existing is not None:
            check_owned(existing, context.project)
            refuse_open_enclave(context, engine, existing, args.force, "tazpod up --replace")
    from tazpod.project import trust

    approved = trust.digest(trust.settings_of(context.config, context.secrets))
    result = up(
        engine, context.project, context.config, ui.info, replace=args.replace, approved=approved
    )
    messages = {
        "created": "created and started",
        "recreated": "recreated from its stopped predecessor",
        "running": "already running",
        "replaced": "recreated",
    }
    ui.say(f"{result.info.name}: {messages[result.action]} ({result.info.image})")
    if context.config.engine == "kubernetes":
        from tazpod.engines.kubernetes import workspace
        from tazpod.engines.kubernetes.engine import KubernetesEngine

        assert isinstance(engine, KubernetesEngine)
        if not workspace.seeded(engine, result.info.name):
            ui.info("the pod's workspace volume is new: copying this project into it")
            root, user = context.project.root, context.config.user
            summary = workspace.push(engine, result.info.name, root, user)
            ui.say(f"pushed {summary}; later: `tazpod workspace push|pull`")
    hooks = context.config.hooks
    if any((hooks.on_create, hooks.update_content, hooks.post_create, hooks.post_start)):
        from tazpod.engines.hooks import run_up_hooks  # (devcontainer.json's lifecycle hooks)

        run_up_hooks(engine, result.info, context.config, result.action, ui.info)
    ui.say("next: `tazpod ssh` for a shell, `tazpod unlock` for the enclave")
    return 0
