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
    from tazpod.sysio.environ import in_container, in_enclave

    if forward_inner is not None and in_container() and not in_enclave() and os.geteuid():
        return _through_opener(args, forward_inner)
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
        cwd=_workdir(),
        environ=dict(os.environ),
        only=tuple(getattr(args, "only", None) or ()),
        profile=getattr(args, "profile", None),
        restart=bool(getattr(args, "restart_on_change", False)),
        restart_signal=getattr(args, "signal", None),
    )

    def on_retry(remaining: int) -> None:
        ui.error(f"wrong passphrase ({remaining} attempt{'s' if remaining != 1 else ''} left)")

    return enter(request, ui.info, on_retry)


def _workdir() -> Path:
    """Where the enclave's command starts: here, or, for root's tazpod that the container's
    opener started for its user, where that user was (it changes there as the user)."""
    workdir = os.environ.get("TAZPOD_WORKDIR")
    from tazpod.sysio.environ import in_container

    if workdir and in_container() and os.geteuid() == 0 and workdir.startswith("/"):
        return Path(workdir)
    return Path.cwd()


def _through_opener(args: argparse.Namespace, inner: list[str]) -> int:
    """The container's user, outside an enclave: root's opener in the container builds it
    (tazpod.enclave.opener); a tazpod command other than unlock/run runs inside it."""
    from tazpod.enclave import opener_client

    file = getattr(args, "passphrase_file", None)
    fd = getattr(args, "passphrase_fd", None)
    if inner[0] == "unlock":
        return opener_client.request(
            "unlock", options=inner[1:], passphrase_file=file, passphrase_fd=fd
        )
    options: list[str] = []
    if inner[0] == "run":
        split = inner.index("--")
        options = inner[1:split]
        command = inner[split + 1 :]
    else:
        command = ["tazpod", *inner]  # parsed by the user's own tazpod, in the enclave
    return opener_client.request(
        "run", command, options=options, passphrase_file=file, passphrase_fd=fd
    )


def rerun_in_enclave(args: argparse.Namespace, ui: UI, tazpod_argv: list[str]) -> int:
    """Open (or join) the enclave and run this same tazpod command inside it, as its user."""
    command = [sys.executable, "-I", "-m", "tazpod", *tazpod_argv]
    return enter_enclave(args, ui, command=command, forward_inner=tazpod_argv)
