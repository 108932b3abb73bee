"""`tazpod vault save`: from inside the enclave, seal the vault now."""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI
from tazpod.enclave import control


def run(args: argparse.Namespace, ui: UI) -> int:
    reply = control.request("save")
    ui.info(str(reply.get("message", "saved")))
    return 0
