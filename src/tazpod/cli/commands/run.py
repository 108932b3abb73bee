"""`tazpod run -- CMD ARGS...`: one command inside the enclave; its exit code passes through."""

from __future__ import annotations

import argparse

from tazpod.cli.entry import enter_enclave
from tazpod.cli.options import (
    command_argv,
    command_operands,
    grant_argv,
    grant_options,
    passphrase_options,
)
from tazpod.cli.ui import UI
from tazpod.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    parser.add_argument("--sync", action="store_true", help="pull secrets first (tazpod pull)")
    grant_options(parser)
    parser.add_argument(
        "--restart-on-change",
        action="store_true",
        help="restart the command when the secrets it was given change",
    )
    parser.add_argument(
        "--signal",
        metavar="SIG",
        type=_signal,
        help="with --restart-on-change: send SIG (e.g. HUP) instead of restarting",
    )
    parser.add_argument(
        "--mask",
        action="store_true",
        help="replace the vault's secret values with *** in the command's output",
    )
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    argv = command_argv(args, "tazpod run")
    if args.signal is not None and not args.restart_on_change:
        raise UsageError("--signal goes with --restart-on-change")
    if args.signal is not None and (args.only or args.profile):
        raise UsageError(
            "--signal cannot refresh a grant's view (it holds the files the command started with)",
            hint="drop --signal: with a grant, --restart-on-change restarts the command",
        )
    if args.sync and (args.only or args.profile):
        raise UsageError(
            "--sync pulls into the whole vault, which a grant's command does not see",
            hint="pull first (`tazpod pull`), then run the command with its grant",
        )
    options = [*(["--sync"] if args.sync else []), *(["--mask"] if args.mask else [])]
    options += grant_argv(args)
    if args.restart_on_change:
        options.append("--restart-on-change")
    if args.signal is not None:
        import signal

        options += ["--signal", signal.Signals(args.signal).name.removeprefix("SIG")]
    inner = ["run", *options, "--", *argv]
    if args.sync or args.mask:
        import sys

        tazpod = [sys.executable, "-I", "-m", "tazpod"]
        if args.mask:
            argv = [*tazpod, "mask", "--", *argv]
        if args.sync:
            argv = [*tazpod, "pull", "--exec", "--", *argv]
    return enter_enclave(args, ui, command=argv, forward_inner=inner)


def _signal(text: str) -> int:
    import signal

    name = text.upper().removeprefix("SIG")
    try:
        return int(signal.Signals[f"SIG{name}"])
    except KeyError:
        raise argparse.ArgumentTypeError(f"{text!r} is no signal name (e.g. HUP, USR1)") from None
