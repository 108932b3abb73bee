"""`tazpod ssh-serve` (internal): root in the container, for one `tazpod ssh --stdio`."""

from __future__ import annotations

from typing import Any

from tazpod.cli.ui import UI


def run(_args: Any, _ui: UI) -> int:
    from tazpod.remote import sshd

    sshd.serve()  # becomes sshd, or raises
    return 1
