"""`tazpod mask -- CMD` (internal; what `tazpod run --mask` runs in the enclave, as its
user): CMD with every secret value of the vault replaced by *** in its output.

The values are read here, inside the enclave (tazpod.secrets.masking.vault_values),
never taken from the command line; this process writes them nowhere but into the
masker. CMD keeps its terminal a terminal (tazpod.sysio.filtered).
"""

from __future__ import annotations

import argparse
import os

from tazpod.cli.options import command_argv, command_operands
from tazpod.cli.ui import UI
from tazpod.errors import TazpodError


def configure(parser: argparse.ArgumentParser) -> None:
    command_operands(parser)


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.secrets import masking
    from tazpod.secrets.environment import vault_root
    from tazpod.sysio import filtered

    argv = command_argv(args, "tazpod mask")
    found = masking.vault_values(vault_root(), os.environ)
    short = masking.too_short(found)
    if short:
        ui.warn(f"not masked, shorter than {masking.MIN_LENGTH} characters: {', '.join(short)}")
    values = masking.maskable(secret.reveal() for _name, secret in found)
    program = filtered.find_program(argv[0], os.environ)
    if program is None:
        raise TazpodError(
            f"cannot start {argv[0]!r} in the enclave: not found",
            hint="check that the program exists for the enclave's user",
        )
    del found
    status = filtered.run_filtered(argv, dict(os.environ), lambda: masking.Masker(values), program)
    return filtered.exit_like(status)
