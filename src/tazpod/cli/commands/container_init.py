"""`tazpod container-init` (internal): the dev container's first process, as root.

It reaps what is orphaned in the container, serves the container user's `tazpod
unlock`/`run`/`lock` (tazpod.enclave.opener), and on the engine's stop (SIGTERM) asks
every open enclave to save and close before it exits.
"""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the container's user")


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.cli import context
    from tazpod.enclave.init import serve

    if context.approved_digest is None:
        from tazpod.errors import UsageError

        raise UsageError("container-init needs the approved settings' digest")
    return serve(args.user, context.approved_digest, ui.info)
