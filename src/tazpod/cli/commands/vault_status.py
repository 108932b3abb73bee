"""`tazpod vault status`: the backend, the files, and whether an enclave has it open."""

from __future__ import annotations

import argparse
import time

from tazpod.cli.context import load_context, project_start
from tazpod.cli.ui import UI
from tazpod.enclave import control
from tazpod.sysio.environ import in_enclave
from tazpod.vault.factory import vault_for
from tazpod.vault.lock import is_locked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tazpod.vault.base import Vault


def _ago(timestamp: float) -> str:
    if not timestamp:
        return "not yet"
    seconds = int(time.time() - timestamp)
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60} min ago"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (see the README)"
    )


def _emit(ui: UI, document: dict[str, Any]) -> int:
    import json

    ui.out.write(json.dumps({"version": 1, **document}, indent=2) + "\n")
    ui.out.flush()
    return 0


def run(args: argparse.Namespace, ui: UI) -> int:
    as_json = getattr(args, "json", False)
    if in_enclave():
        reply = control.request("status")
        if as_json:
            backend = str(reply.get("backend", "ram"))
            return _emit(
                ui,
                {
                    "state": "open",
                    "inside": True,
                    "backend": backend,
                    "mount_point": str(reply["mount_point"]),
                    "sessions": int(reply["sessions"]),
                    "opened_at": float(reply["opened_at"]),
                    "last_save": float(reply["last_save"]) or None,
                    "used_bytes": int(reply["used"]),
                    "size_bytes": int(reply["size"]),
                    "details": _opened_vault(backend).details(open_elsewhere=False),
                },
            )
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
        for line in _opened_vault(backend).details(open_elsewhere=False):
            ui.say(line)
        for line in _autolock_lines(reply):
            ui.say(line)
        return 0
    context = load_context(ui)
    vault = vault_for(context.config.vault, context.project.vault_dir)
    locked = is_locked(vault.directory)
    if as_json:
        return _emit(
            ui,
            {
                "state": "open" if locked else "closed",
                "inside": False,
                "backend": context.config.vault.backend,
                "directory": str(vault.directory),
                "files": vault.describe(),
                "details": vault.details(open_elsewhere=locked),
            },
        )
    ui.say(f"backend:     {context.config.vault.backend}")
    for line in vault.describe():
        ui.say(line)
    for line in vault.details(open_elsewhere=locked):
        ui.say(line)
    ui.say(f"state:       {'open (an enclave holds it)' if locked else 'closed'}")
    settings = context.config.vault
    for line in _autolock_lines({"idle_lock": settings.idle_lock, "max_open": settings.max_open}):
        ui.say(line)
    return 0


def _autolock_lines(reply: dict[str, object]) -> list[str]:
    """`vault.idle_lock` and `vault.max_open`; in an enclave also when each fires."""
    from tazpod.project.durations import render

    lines = []
    for key, label, unless in (
        ("idle_lock", "idle lock:  ", " unless there is input or activity"),
        ("max_open", "max open:   ", ""),
    ):
        limit, at = reply.get(key), reply.get(f"{key}_at")
        if not isinstance(limit, int):
            lines.append(f"{label} off (vault.{key})")
        elif isinstance(at, int | float):
            clock = time.strftime("%H:%M:%S", time.localtime(at))
            left = render(at - time.time())
            lines.append(f"{label} {render(limit)}: locks at {clock} (in {left}){unless}")
        else:
            lines.append(f"{label} {render(limit)} (vault.{key})")
    return lines


def _opened_vault(backend: str) -> Vault:
    """The vault this enclave has open, as the enclave says (config.yaml may have changed)."""
    from tazpod.project.config import VaultConfig
    from tazpod.project.locate import require_project

    return vault_for(VaultConfig(backend=backend), require_project(project_start()).vault_dir)
