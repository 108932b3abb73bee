"""`tazpod workspace push|pull|files`: the project to and from the dev pod (kubernetes).

`files` lists what a copy carries from here (.gitignore applied, the vault left out);
push and pull use that list on the sending side.
"""

from __future__ import annotations

import argparse

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import engine_for, require_host
from tazpod.cli.options import action, actions
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser, "workspace commands")
    action(sub, "push", "copy this project into the pod's /workspace", action="push")
    pull = action(sub, "pull", "copy the pod's /workspace into this project", action="pull")
    pull.add_argument(
        "--git",
        action="store_true",
        help="also bring the pod's git data (objects, refs, logs, HEAD; never its config,"
        " hooks, index or replace refs)",
    )
    files = action(sub, "files", "list what a copy from here carries", action="files")
    files.add_argument("-0", "--null", action="store_true", help="NUL-separated (for tar -T)")


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import require_running

    context = load_context(ui)
    if args.action == "files":
        import sys

        from tazpod.engines.kubernetes.workspace import NEVER_COPIED
        from tazpod.project.gitignore import project_files

        end = "\0" if args.null else "\n"
        for path in project_files(context.project.root, NEVER_COPIED):
            sys.stdout.write(path + end)
        return 0
    require_host()
    if context.config.engine != "kubernetes":
        raise UsageError(
            f"engine {context.config.engine} mounts this directory into the container directly",
            hint="workspace push/pull is for engine: kubernetes",
        )
    from tazpod.engines.kubernetes import workspace
    from tazpod.engines.kubernetes.engine import KubernetesEngine

    engine = engine_for(context)
    assert isinstance(engine, KubernetesEngine)
    info = require_running(engine, context.project, context.config)
    if args.action == "push":
        ui.info(f"copying {context.project.root} into {info.name}:/workspace (vault excluded)")
        summary = workspace.push(engine, info.name, context.project.root, context.config.user)
        ui.say(f"pushed {summary}")
    else:
        ui.info(f"copying {info.name}:/workspace into {context.project.root} (vault excluded)")
        root, user = context.project.root, context.config.user
        summary = workspace.pull(engine, info.name, root, user, with_git=args.git)
        ui.say(f"pulled {summary}")
    return 0
