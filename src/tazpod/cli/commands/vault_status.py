"""`tazpod vault status`: the backend, the files, and whether an enclave has it open."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from tazpod.cli.commands._context import load_context
from tazpod.cli.ui import UI
from tazpod.enclave import control
from tazpod.sysio.environ import in_enclave
from tazpod.vault.lock import is_locked
from tazpod.vault.state import describe_vault


def _ago(timestamp: float) -> str:
    if not timestamp:
        return "not yet"
    seconds = int(time.time() - timestamp)
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60} min ago"


def run(args: argparse.Namespace, ui: UI) -> int:
    if in_enclave():
        reply = control.request("status")
        ui.say(f"enclave:     open at {reply['mount_point']}, {reply['sessions']} session(s)")
        ui.say(f"opened:      {_ago(float(reply['opened_at']))}")
        ui.say(f"last save:   {_ago(float(reply['last_save']))}")
        used, size = int(reply["used"]), int(reply["size"])
        backend = str(reply.get("backend", "ram"))
        ui.say(f"backend:     {backend}")
        ui.say(
            f"space:       {used // 1024} KiB used of {size // (1024 * 1024)} MiB"
            f" ({(size - used) // (1024 * 1024)} MiB free)"
        )
        if backend == "luks":
            _keyslots(ui, load_context(ui).project.vault_dir)
        return 0
    context = load_context(ui)
    ui.say(f"backend:     {context.config.vault.backend}")
    for line in describe_vault(context.project, context.config):
        ui.say(line)
    locked = is_locked(context.project.vault_dir)
    if context.config.vault.backend == "luks":
        _keyslots(ui, context.project.vault_dir)
        if locked:
            ui.say("space:       shown inside the enclave (`tazpod vault status` there)")
    ui.say(f"state:       {'open (an enclave holds it)' if locked else 'closed'}")
    return 0


def _keyslots(ui: UI, vault_dir: Path) -> None:
    from tazpod.errors import TazpodError
    from tazpod.vault.luks import LuksVault

    vault = LuksVault(vault_dir, (os.getuid(), os.getgid(), ()))
    if not vault.exists():
        return
    try:
        slots = vault.keyslots()
    except TazpodError as err:
        ui.say(f"keyslots:    unknown ({err.message})")
        return
    ui.say(f"keyslots:    {len(slots)} in use ({', '.join(map(str, slots))})")
