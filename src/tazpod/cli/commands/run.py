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
    parser.add_argument(
        "--mask",
        action="store_true",
        help="replace the vault's secret values with *** in the command's output",
    )
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("no command to run", hint="write it after --, e.g. tazpod run -- env")
    options = [*(["--sync"] if args.sync else []), *(["--mask"] if args.mask else [])]
    inner = ["run", *options, "--", *argv]
    if args.sync or args.mask:
        import sys

        tazpod = [sys.executable, "-I", "-m", "tazpod"]
        if args.mask:
            argv = [*tazpod, "mask", "--", *argv]
        if args.sync:
            argv = [*tazpod, "pull", "--exec", "--", *argv]
    return enter_enclave(args, ui, command=argv, forward_inner=inner)
