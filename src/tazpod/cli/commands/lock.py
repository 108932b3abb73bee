"""`tazpod lock`: from inside the enclave, save the vault and end the enclave."""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI
from tazpod.enclave import control


def run(args: argparse.Namespace, ui: UI) -> int:
    import signal

    # The enclave's shells are hung up as it closes: say what happens, then go, rather
    # than being reported "Terminated" by the shell that started us.
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    reply = control.request("lock")
    ui.info(str(reply.get("message", "closing")))
    return 0
