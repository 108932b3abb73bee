"""`tazpod unlock`: open the vault and start an interactive shell in the enclave."""

from __future__ import annotations

import argparse

from tazpod.cli.entry import enter_enclave
from tazpod.cli.options import grant_argv, grant_options, passphrase_options
from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    grant_options(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    return enter_enclave(args, ui, command=None, forward_inner=["unlock", *grant_argv(args)])
