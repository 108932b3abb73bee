"""`tazpod lock`: save the vault and end the enclave.

Inside the enclave it asks its supervisor through the control socket. Outside, as
root, it asks through the enclave's door (tazpod.enclave.admission) and waits until
the vault is saved and closed; on a host whose project container runs, it does that in
the container (root there), so the host's `tazpod lock` ends the enclave a host-side
`tazpod unlock` or `run` opened in it.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from tazpod.cli.ui import UI

_CLOSE_WAIT = 300.0  # seconds: a large vault's final save
_OPENING_WAIT = 15.0  # seconds: an enclave whose door is not open yet
DONE = b"done\n"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--on-hangup",
        action="store_true",
        help="(the host side's lifeline) wait until standard input closes; unless it said"
        " 'done' first, lock the enclave",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="(for the host's `down`, as root) print whether an enclave holds this project's"
        " vault open here: open or closed; nothing is locked",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.sysio.environ import in_enclave

    if getattr(args, "on_hangup", False):
        return _on_hangup(args, ui)
    if getattr(args, "check", False):
        return _check(ui)
    if not in_enclave():
        return _from_outside(args, ui)
    from tazpod.enclave import control

    # The enclave's shells are hung up as it closes: say what happens, then go, rather
    # than being reported "Terminated" by the shell that started us.
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    reply = control.request("lock")
    ui.info(str(reply.get("message", "closing")))
    return 0


def _on_hangup(args: argparse.Namespace, ui: UI) -> int:
    """The lifeline of a host-side `run`/`unlock`: when the host side goes (Ctrl-C, a
    closed terminal, kill -9 of it and its engine client), the engine closes this exec's
    standard input; the enclave it opened is then saved and closed, not left open."""
    import os

    from tazpod.vault.lock import is_locked

    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)  # the engine may hang us up as it goes
    said = b""
    while chunk := os.read(0, 64):
        said = (said + chunk)[-len(DONE) :]
    if said == DONE:
        return 0
    ui.info("the host side went away: closing the enclave it used")
    deadline = time.monotonic() + _OPENING_WAIT
    from tazpod.cli.context import load_context

    vault_dir = load_context(ui).project.vault_dir
    while _lock(vault_dir, ui) is None and is_locked(vault_dir):
        if time.monotonic() > deadline:
            return 0  # locked by something that is no enclave
        time.sleep(0.2)  # still opening: its door comes once the vault is mounted
    return 0


def _from_outside(args: argparse.Namespace, ui: UI) -> int:
    import os

    from tazpod.cli.context import load_context
    from tazpod.cli.forwarding import forward, running_container
    from tazpod.errors import PrivilegeError
    from tazpod.sysio.environ import in_container

    if in_container() and os.geteuid() != 0:  # root's opener in the container does it
        from tazpod.enclave import opener_client

        return opener_client.request("lock")
    context = load_context(ui)
    target = running_container(context)
    if target is not None:
        return forward(args, ui, target, ["lock"], context)
    if os.geteuid() != 0:
        raise PrivilegeError(
            "outside the enclave, `tazpod lock` needs root (the enclave's door is root's)",
            hint="run `sudo tazpod lock`, or `tazpod lock` in the enclave's own shell",
        )
    if _lock(context.project.vault_dir, ui) is None:
        ui.say("no enclave holds this project's vault open (nothing to lock)")
    return 0


def _check(ui: UI) -> int:
    """Whether the enclave's door answers: the supervisor's word, whatever became of the
    lock file (a same-uid process can rename it; the door is root's alone)."""
    from tazpod.cli.context import load_context
    from tazpod.enclave import admission

    ui.say("open" if admission.answers(load_context(ui).project.vault_dir) else "closed")
    return 0


def _lock(vault_dir: Path, ui: UI) -> bool | None:
    """Ask the open enclave to close and wait until it has; None when none answers (in a
    dev container every enclave there, whatever the project's paths say: see admission)."""
    from tazpod.enclave import admission

    closed = False
    for door in admission.doors(vault_dir):
        closed = _close(door, ui) or closed
    if not closed:
        return None
    ui.say("vault saved and closed")
    return True


def _close(door: Path, ui: UI) -> bool:
    """Ask the supervisor at ``door`` to save and close, and wait until it has; False when
    nobody answers there."""
    import os

    from tazpod.enclave import admission
    from tazpod.errors import VaultError

    conn = admission.knock(door)
    if conn is None:
        return False
    with conn:
        reply, fds = admission.ask(conn, "lock")
    for fd in fds:
        os.close(fd)
    if not reply.get("ok"):
        raise VaultError(str(reply.get("message", "the enclave refused to close")))
    ui.info("the enclave is saving and closing")
    deadline = time.monotonic() + _CLOSE_WAIT
    while door.exists():  # its supervisor removes it, last
        if time.monotonic() > deadline:
            raise VaultError(
                f"the enclave did not close within {_CLOSE_WAIT:.0f} s",
                hint="its final save may still be running; `tazpod status` shows the vault",
            )
        time.sleep(0.1)
    return True
