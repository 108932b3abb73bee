"""The command surface: parse arguments, call a command, map errors to exit codes.

Start-up is kept lean because `tazpod env` runs on every prompt: `--version` and
`--help` need no argparse at all, a command builds only its own parser, and
command modules (and the libraries behind them) are imported only when they run.
"""

from __future__ import annotations

import os
import sys

from tazpod import __version__

TYPE_CHECKING = False  # not typing's: start-up time matters here
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

USAGE = "usage: tazpod [-h] [--version] [--debug] COMMAND ..."
DESCRIPTION = (
    "Zero-trust development environments: a dev container per project and an\n"
    "encrypted vault that opens only inside one shell's private namespace."
)


def _help() -> str:
    from tazpod.cli.table import COMMANDS

    width = max(len(name) for name in COMMANDS) + 2
    lines = [
        USAGE,
        "",
        DESCRIPTION,
        "",
        "options:",
        "  -h, --help   show this help message and exit",
        "  --version    show the version and exit",
        "  --debug      show tracebacks and debug messages",
        "",
        "commands:",
    ]
    for name, (_module, text, aliases) in COMMANDS.items():
        label = name + (f" ({', '.join(aliases)})" if aliases else "")
        lines.append(f"  {label.ljust(width + 8)}{text}")
    lines += ["", "`tazpod COMMAND --help` explains a command."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        from tazpod.cli.parsers import full_parser

        argcomplete.autocomplete(full_parser())
    debug = os.environ.get("TAZPOD_DEBUG") == "true"
    while args and args[0] in ("--debug", "--version", "-h", "--help"):
        flag = args.pop(0)
        if flag == "--version":
            sys.stdout.write(f"tazpod {__version__}\n")
            return 0
        if flag in ("-h", "--help"):
            sys.stdout.write(_help())
            return 0
        debug = True
    if not args:
        sys.stderr.write(_help())
        return 2
    return _dispatch(args, debug)


def _parse(name: str, rest: list[str]) -> Any:
    """A command without arguments needs no parser (argparse costs start-up time)."""
    from tazpod.cli.table import COMMANDS, WITHOUT_ARGUMENTS

    if not rest and name in WITHOUT_ARGUMENTS:
        from types import SimpleNamespace

        return SimpleNamespace(command=COMMANDS[name][0])
    from tazpod.cli.parsers import command_parser

    return command_parser(name).parse_args(rest)


def _dispatch(args: list[str], debug: bool) -> int:
    import importlib

    from tazpod.cli.table import ALIASES, COMMANDS
    from tazpod.cli.ui import UI
    from tazpod.errors import ExitCode, TazpodError

    ui = UI()
    name = ALIASES.get(args[0], args[0])
    if name not in COMMANDS:
        ui.error(f"unknown command {args[0]!r}", hint="`tazpod --help` lists the commands")
        return int(ExitCode.USAGE)
    try:
        parsed = _parse(name, args[1:])
    except SystemExit as exit_:  # argparse printed its own usage error or help
        return int(exit_.code or 0)
    try:
        module = importlib.import_module(f"tazpod.cli.commands.{parsed.command}")
        return int(module.run(parsed, ui))
    except TazpodError as err:
        ui.error(err.message, err.hint)
        return int(err.exit_code)
    except KeyboardInterrupt:
        ui.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as err:
        if debug:
            import traceback

            traceback.print_exc()
        ui.error(
            f"internal error: {type(err).__name__}",
            hint="run again with --debug for the traceback, and report it",
        )
        return int(ExitCode.INTERNAL)
