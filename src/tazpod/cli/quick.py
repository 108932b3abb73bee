"""`tazpod exec -- CMD` and `tazpod ssh` on the quick path: a ticket, then the exec API.

Run before any parser is built (as root, after the check that tazpod's installation is
root's alone). It applies only on a host (not in a container or an enclave), for a
Docker engine on its Unix socket, and only while the ticket of the last full check holds
(tazpod.project.exec_ticket); everything else, and every doubt, returns None and the
full path runs, with its checks and its messages. Nothing has run in the container when
it returns None: the engine refused to create the exec (the container is gone or
stopped; the full path says which).
"""

from __future__ import annotations

import os

from tazpod.sysio import environ

WORKSPACE = "/workspace"
SHELL = ["bash", "-l"]


def command_of(args: list[str]) -> list[str] | None:
    """The command `exec`/`ssh` would run, when the arguments are the plain forms."""
    if args[0] == "exec":
        rest = args[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        elif rest[:1] and rest[0].startswith("-"):
            return None  # an option (--help): argparse's
        return rest or None
    if args[0] in ("ssh", "enter") and len(args) == 1:
        return SHELL
    return None


def run(args: list[str]) -> int | None:
    command = command_of(args)
    if command is None or environ.in_container() or environ.in_enclave():
        return None
    from tazpod.engines.docker_socket import socket_path
    from tazpod.project import exec_ticket

    socket = socket_path()
    root = exec_ticket.find_root(os.getcwd())
    if socket is None or root is None:
        return None
    ticket = exec_ticket.read(root, socket)
    if ticket is None:
        return None
    container, user = ticket
    from tazpod.engines import docker_exec
    from tazpod.errors import TazpodError

    tty = os.isatty(0) and os.isatty(1)
    try:
        return docker_exec.attach(socket, container, command, user, tty, WORKSPACE)
    except docker_exec.ExecRefused:
        return None
    except TazpodError as err:
        from tazpod.cli.ui import UI

        UI().error(err.message, err.hint)
        return int(err.exit_code)
    except KeyboardInterrupt:
        return 130
