"""`tazpod run -- CMD ARGS...`: one command inside the enclave; its exit code passes through."""

from __future__ import annotations

import argparse

from tazpod.cli.entry import enter_enclave
from tazpod.cli.options import command_operands, passphrase_options
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    parser.add_argument("--sync", action="store_true", help="pull secrets first (tazpod pull)")
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("no command to run", hint="write it after --, e.g. tazpod run -- env")
    inner = ["run", *(["--sync"] if args.sync else []), "--", *argv]
    if args.sync:
        import sys

        argv = [sys.executable, "-I", "-m", "tazpod", "pull", "--exec", "--", *argv]
    return enter_enclave(args, ui, command=argv, forward_inner=inner)
