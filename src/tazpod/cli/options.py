"""Argument groups that several commands share, and the parser class every command uses.

The parser reports errors in tazpod's own style (`tazpod: ...` and `hint:` lines) with a
"did you mean" for a mistyped choice, instead of argparse's usage dump.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    Actions = argparse._SubParsersAction[argparse.ArgumentParser]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        from tazpod.cli.suggest import did_you_mean

        hint = did_you_mean(message)
        sys.stderr.write(f"tazpod: {self.prog.removeprefix('tazpod ')}: {message}\n")
        if hint:
            sys.stderr.write(f"hint: {hint}\n")
        sys.stderr.write(f"hint: `{self.prog} --help` explains it\n")
        raise SystemExit(2)


def size_mib(text: str) -> int:
    from tazpod.project.config import parse_size_mib

    try:
        return parse_size_mib(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def passphrase_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from the first line of FILE (never pass it as an argument)",
    )
    group.add_argument(
        "--passphrase-fd",
        metavar="FD",
        type=int,
        help="read the passphrase from inherited file descriptor FD, e.g. 3 with 3<file",
    )


def grant_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME[,NAME...]",
        help="the command sees only these secrets, mapped files and bridges (repeatable)",
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="the command sees only this grant set of secrets.yml"
    )


def grant_argv(args: argparse.Namespace) -> list[str]:
    """--only and --profile again, for the same command where it runs (container, opener)."""
    words = [word for name in args.only or () for word in ("--only", name)]
    return words + (["--profile", args.profile] if args.profile else [])


def command_operands(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")


def command_argv(args: argparse.Namespace, command: str) -> list[str]:
    """The command after `--` (command_operands); none is a usage error naming ``command``."""
    from tazpod.errors import UsageError

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("no command to run", hint=f"write it after --, e.g. {command} -- env")
    return argv


def actions(parser: argparse.ArgumentParser, title: str) -> Actions:
    """Second-level commands (`vault status`, `secrets set`): each with its own description."""
    return parser.add_subparsers(title=title, metavar="ACTION", required=True)


def action(sub: Actions, name: str, text: str, **defaults: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=text, description=text)
    parser.set_defaults(**defaults)
    return parser
