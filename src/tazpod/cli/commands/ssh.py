"""`tazpod ssh|enter` and `tazpod exec -- CMD`: sessions in the container as its user."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import require_host, run_session, session_engine_for
from tazpod.cli.quick import SHELL, WORKSPACE
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(mode="shell")


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import require_running

    require_host()
    seen = _settings_seen()  # before they are checked: a later change voids the ticket
    context = load_context(ui)
    engine = session_engine_for(context)
    info = require_running(engine, context.project, context.config)
    command = list(getattr(args, "argv", None) or [])
    if command and command[0] == "--":
        command = command[1:]
    if args.mode == "exec" and not command:
        raise UsageError("no command to run", hint="tazpod exec -- CMD ARGS...")
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv, user = command or SHELL, context.config.user
    attach = getattr(engine, "attach", None)
    if attach is None:  # Podman's CLI, Kubernetes' streams
        return run_session(engine, info.name, argv, user, tty)
    if seen is not None and seen["root"] == str(context.project.root):
        # All checks passed: the next `exec`/`ssh` may take the quick path (cli/quick.py).
        from tazpod.project import exec_ticket

        exec_ticket.write(seen, engine.path, info.full_id, user)  # type: ignore[union-attr]
    return int(attach(info.full_id or info.name, argv, user, tty, WORKSPACE))


def _settings_seen() -> dict[str, Any] | None:
    """What the project's settings files and their approval are before the check."""
    from pathlib import Path

    from tazpod.project import exec_ticket, trust

    root = exec_ticket.find_root(os.getcwd())
    if root is None:
        return None
    return exec_ticket.facts(root, str(trust.approval_path(Path(root))))
