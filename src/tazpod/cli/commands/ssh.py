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
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="speak ssh on stdin/stdout to the container's sshd (ssh's ProxyCommand;"
        " `tazpod ssh-config` writes the entry that uses it)",
    )
    parser.add_argument(
        "--project", metavar="DIR", help="the project's directory (default: this one)"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines.devcontainer import require_running

    require_host()
    if getattr(args, "project", None):
        os.chdir(args.project)
    if getattr(args, "stdio", False):
        return _stdio(ui)
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
    attach_hooks = bool(context.config.hooks.post_attach)
    if attach_hooks and not command:  # devcontainer.json's postAttachCommand
        from tazpod.engines.hooks import run_attach_hooks

        run_attach_hooks(engine, info, context.config, ui.info)
    attach = getattr(engine, "attach", None)
    if attach is None:  # Podman's CLI, Kubernetes' streams
        return run_session(engine, info.name, argv, user, tty)
    if seen is not None and seen["root"] == str(context.project.root) and not attach_hooks:
        # All checks passed: the next `exec`/`ssh` may take the quick path (cli/quick.py),
        # which runs no hook (a project with a postAttachCommand never gets a ticket).
        from tazpod.project import exec_ticket

        exec_ticket.write(seen, engine.path, info.full_id, user)  # type: ignore[union-attr]
    return int(attach(info.full_id or info.name, argv, user, tty, WORKSPACE))


def _stdio(ui: UI) -> int:
    """The ssh protocol on our stdin and stdout, to `sshd -i` as root in the container
    (tazpod.remote.sshd): what ssh's ProxyCommand runs. Nothing but the protocol goes
    to stdout; messages go to stderr, which ssh shows."""
    from tazpod.cli.forwarding import (
        CONTAINER_TAZPOD,
        NO_PROGRAM,
        NO_TAZPOD_HINT,
        NO_TAZPOD_IN_IMAGE,
    )
    from tazpod.engines.devcontainer import require_running
    from tazpod.remote import keys, proxy

    context = load_context(ui)
    engine = session_engine_for(context)
    info = require_running(engine, context.project, context.config)
    found = keys.ensure(context.config.container_name)
    preamble = proxy.header(found, context.config.user)
    target = info.full_id or info.name
    code = proxy.carry(engine, target, [*CONTAINER_TAZPOD, "ssh-serve"], preamble)
    if code in NO_PROGRAM:
        ui.error(NO_TAZPOD_IN_IMAGE, hint=NO_TAZPOD_HINT)
    return code


def _settings_seen() -> dict[str, Any] | None:
    """What the project's settings files and their approval are before the check."""
    from pathlib import Path

    from tazpod.project import exec_ticket, trust

    root = exec_ticket.find_root(os.getcwd())
    if root is None:
        return None
    return exec_ticket.facts(root, str(trust.approval_path(Path(root))))
