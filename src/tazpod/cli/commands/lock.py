"""`tazpod lock`: from inside the enclave, save the vault and end the enclave."""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI
from tazpod.enclave import control


def run(args: argparse.Namespace, ui: UI) -> int:
    reply = control.request("lock")
    ui.info(str(reply.get("message", "closing")))
    return 0
