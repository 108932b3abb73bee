"""Into the enclave: open it here, or forward the command into the project's container."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tazpod.cli.context import load_context, passphrase_source
from tazpod.cli.ui import UI


def enter_enclave(
    args: argparse.Namespace,
    ui: UI,
    command: list[str] | None,
    forward_inner: list[str] | None = None,
) -> int:
    """Open the enclave here, or, on a host whose project container runs, inside it.

    ``forward_inner`` is the tazpod command line that does the same inside the container.
    """
    from tazpod.enclave.service import EnterRequest, enter

    context = load_context(ui)
    if forward_inner is not None:
        from tazpod.cli.forwarding import forward, running_container

        target = running_container(context)
        if target is not None:
            return forward(args, ui, target, forward_inner, context)
    request = EnterRequest(
        project=context.project,
        config=context.config,
        secrets=context.secrets,
        passphrase=passphrase_source(args),
        command=command,
        cwd=Path.cwd(),
        environ=dict(os.environ),
    )

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} attempt{'s' if remaining != 1 else ''} left)")

    return enter(request, ui.info, on_retry)


def rerun_in_enclave(args: argparse.Namespace, ui: UI, tazpod_argv: list[str]) -> int:
    """Open (or join) the enclave and run this same tazpod command inside it, as its user."""
    command = [sys.executable, "-I", "-m", "tazpod", *tazpod_argv]
    return enter_enclave(args, ui, command=command, forward_inner=tazpod_argv)
