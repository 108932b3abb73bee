"""`tazpod exec -- CMD`: one command in the container as its user; its exit code passes through."""

from __future__ import annotations

import argparse

from tazpod.cli.commands import ssh
from tazpod.cli.options import command_operands
from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(mode="exec")
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    return ssh.run(args, ui)
