"""`tazpod ssh-config [--remove]`: the project's `Host` entry for ssh, scp, rsync, git and
IDEs (VS Code Remote-SSH, JetBrains Gateway, Zed), through `tazpod ssh --stdio`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tazpod.cli.context import load_context
from tazpod.cli.forwarding import require_host
from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remove",
        action="store_true",
        help="take the project's entry out again (the user's own lines are left as they were)",
    )
    parser.add_argument(
        "--ssh-dir",
        metavar="DIR",
        type=Path,
        help="the ssh directory whose config includes the entries (default: ~/.ssh)",
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.project.names import safe_dir_part
    from tazpod.remote import keys, sshconfig

    require_host()
    context = load_context(ui)
    container = context.config.container_name
    base = args.ssh_dir.absolute() if args.ssh_dir else sshconfig.ssh_dir()
    if args.remove:
        removed = sshconfig.remove(container, base)
        where = sshconfig.entry_path(container, base)
        ui.say(f"removed {where}" if removed else f"no entry for this project ({where})")
        return 0
    alias = f"tazpod-{safe_dir_part(context.project.root.name)}"
    if sshconfig.alias_taken(alias, container, base):
        ui.warn(f"another project's entry is {alias}: this one is named {container}")
        alias = container
    found = keys.ensure(container)
    from tazpod.sysio.files import write_atomic

    write_atomic(found.known_hosts, keys.known_hosts_line(found, alias).encode(), mode=0o600)
    entry = sshconfig.Entry(
        alias=alias,
        project=context.project.root,
        container=container,
        user=context.config.user,
        proxy=[
            sys.executable,
            "-I",
            "-m",
            "tazpod",
            "ssh",
            "--stdio",
            "--project",
            str(context.project.root),
        ],
        identity=found.client,
        known_hosts=found.known_hosts,
        agent=context.config.ssh_agent,
        forwards=_forwards(context.config),
    )
    path = sshconfig.install(entry, base)
    ui.say(f"wrote {path} (included from {base / 'config'})")
    ui.say(f"connect: ssh {alias}   (VS Code: Remote-SSH: Connect to Host... -> {alias})")
    if entry.forwards:
        ports = ", ".join(str(port) for port in entry.forwards)
        ui.say(f"forwarded while connected: localhost {ports}")
    return 0


def _forwards(config: object) -> tuple[int, ...]:
    """forwardPorts, as ssh -L: only where the container's ports are not the host's own
    (a pod, a container without a network; on the host's network it serves them there)."""
    if getattr(config, "engine", "") != "kubernetes" and getattr(config, "network", "") == "host":
        return ()
    return tuple(getattr(config, "forward_ports", ()) or ())
