"""The command surface: parse arguments, call a command, map errors to exit codes.

Start-up is kept lean because `tazpod env` runs on every prompt: `--version` needs no
argparse at all, a command builds only its own parser, and command modules (and the
libraries behind them) are imported only when they run.
"""

from __future__ import annotations

import os
import sys

from tazpod import __version__

TYPE_CHECKING = False  # not typing's: start-up time matters here
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any

USAGE = "usage: tazpod [-h] [--version] [--debug] COMMAND ..."
DESCRIPTION = (
    "Zero-trust development environments: a dev container per project and an\n"
    "encrypted vault that opens only inside one shell's private namespace."
)
GLOBAL_OPTIONS = ("--debug", "--version", "-h", "--help")
# Host -> root in the container: the digest of the approved settings (internal; the value
# is tazpod.project.trust.APPROVED_OPTION, not imported here for start-up time).
APPROVED_OPTION = "--approved-settings="
QUICK = ("exec", "ssh", "enter")  # commands with a quick path (tazpod.cli.quick)


def _help() -> str:
    from tazpod.cli.commands import NAMES, SUMMARIES, aliases_of

    labels = {name: name + "".join(f" ({a})" for a in aliases_of(name)) for name in NAMES}
    width = max(len(label) for label in labels.values()) + 2
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
    lines += [f"  {labels[name].ljust(width)}{SUMMARIES[name]}" for name in NAMES]
    lines += ["", "`tazpod COMMAND --help` explains a command."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(full_parser())
    debug = os.environ.get("TAZPOD_DEBUG") == "true"
    while args and args[0].startswith(APPROVED_OPTION):
        from tazpod.cli import context

        context.approved_digest = args.pop(0).removeprefix(APPROVED_OPTION)
    while args and args[0] in GLOBAL_OPTIONS:
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
    if args[0] in QUICK:
        from tazpod.cli import quick

        refused = _unsafe_for_root()
        if refused is not None:
            return refused
        code = quick.run(args)  # None: the full path (no ticket, or any doubt)
        if code is not None:
            return code
        return _dispatch(args, debug, root_checked=True)
    return _dispatch(args, debug)


def _unsafe_for_root() -> int | None:
    """As root, the exit code of a refusal when tazpod's installation is not root's alone."""
    if os.geteuid() != 0:
        return None
    from tazpod.errors import TazpodError
    from tazpod.sysio.selfcheck import require_root_owned_install

    try:
        require_root_owned_install()  # root runs no code another user could change
    except TazpodError as err:
        from tazpod.cli.ui import UI

        UI().error(err.message, err.hint)
        return int(err.exit_code)
    return None


def command_parser(name: str, module: ModuleType) -> argparse.ArgumentParser:
    from tazpod.cli.commands import summary
    from tazpod.cli.options import Parser

    parser = Parser(prog=f"tazpod {name}", description=summary(name))
    parser.set_defaults(command=module.__name__.rpartition(".")[2])
    configure = getattr(module, "configure", None)
    if configure is not None:
        configure(parser)
    return parser


def full_parser() -> argparse.ArgumentParser:
    """Every command at once: for shell completion only (it is the slow way)."""
    from tazpod.cli.commands import NAMES, SUMMARIES, aliases_of, load
    from tazpod.cli.options import Parser

    parser = Parser(prog="tazpod")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(metavar="COMMAND")
    for name in NAMES:
        module = load(name)
        child = sub.add_parser(name, help=SUMMARIES[name], aliases=aliases_of(name))
        child.set_defaults(command=name)
        configure = getattr(module, "configure", None)
        if configure is not None:
            configure(child)
    return parser


def _unknown(word: str) -> tuple[str, str]:
    """The error and hint for a first word that is no command (or a mistyped option)."""
    from tazpod.cli.commands import ALIASES, NAMES
    from tazpod.cli.suggest import closest

    if word.startswith("-"):
        match = closest(word, GLOBAL_OPTIONS)
        message = f"unknown option {word!r}"
    else:
        match = closest(word, [*NAMES, *ALIASES])
        message = f"unknown command {word!r}"
    hint = f"did you mean {match!r}? " if match else ""
    return message, hint + "`tazpod --help` lists the commands and options"


def _parse(name: str, rest: list[str]) -> Any:
    """A command without arguments needs no parser (argparse costs start-up time)."""
    from tazpod.cli.commands import load

    module = load(name)
    if not rest:
        # A command run without arguments needs no parser when it takes none, or names
        # its options' defaults (`up`: the daily path of a command with options).
        defaults = getattr(module, "DEFAULTS", None)
        if defaults is not None or getattr(module, "configure", None) is None:
            return _NoArguments(name, defaults or {})
    return command_parser(name, module).parse_args(rest)


class _NoArguments:
    """The parsed arguments of a command run without any (types.SimpleNamespace costs more)."""

    def __init__(self, command: str, defaults: dict[str, Any]) -> None:
        self.command = command
        for key, value in defaults.items():
            setattr(self, key, value)


def _dispatch(args: list[str], debug: bool, root_checked: bool = False) -> int:
    from tazpod.cli.commands import ALIASES, INTERNAL, NAMES, load
    from tazpod.cli.ui import UI
    from tazpod.errors import ExitCode, TazpodError

    ui = UI()
    name = ALIASES.get(args[0], args[0])
    if name not in NAMES and name not in INTERNAL:
        message, hint = _unknown(args[0])
        ui.error(message, hint=hint)
        return int(ExitCode.USAGE)
    refused = None if root_checked else _unsafe_for_root()
    if refused is not None:
        return refused
    try:
        parsed = _parse(name, args[1:])
    except SystemExit as exit_:  # argparse printed its own error or help
        return int(exit_.code or 0)
    try:
        return int(load(parsed.command).run(parsed, ui))
    except TazpodError as err:
        ui.error(err.message, err.hint)
        return int(err.exit_code)
    except KeyboardInterrupt:
        ui.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `tazpod status | head`: the reader had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141  # what a shell reports for a command ended by SIGPIPE
    except Exception as err:
        if debug:
            import traceback

            traceback.print_exc()
        ui.error(
            f"internal error: {type(err).__name__}",
            hint="run again with --debug for the traceback, and report it",
        )
        return int(ExitCode.INTERNAL)
