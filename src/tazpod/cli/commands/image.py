"""`tazpod image bootstrap`: a base image from a package mirror, no registry needed.

`tazpod image seccomp`: tazpod's seccomp profile (the one `up` gives Docker and Podman
containers), for a Kubernetes node's kubelet seccomp directory (kubernetes.seccomp_profile).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tazpod.cli.forwarding import require_host
from tazpod.cli.options import action, actions
from tazpod.cli.ui import UI
from tazpod.errors import EngineError, PrivilegeError
from tazpod.sysio.environ import Inherit, child_env
from tazpod.sysio.run import CommandFailed
from tazpod.sysio.run import run as run_command
from tazpod.sysio.tools import find_tool

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def components(args: argparse.Namespace) -> str:
    """The archive areas: Ubuntu's editor and tools (neovim, ripgrep, age) are in universe."""
    if args.components:
        return str(args.components)
    ubuntu = "ubuntu" in f"{args.mirror} {args.keyring or ''}".lower()
    return "main,universe" if ubuntu else "main"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = actions(parser, "image commands")
    boot = action(sub, "bootstrap", "a base image from a Debian/Ubuntu mirror", action="bootstrap")
    boot.add_argument("--suite", default="bookworm", help="distribution suite (default bookworm)")
    boot.add_argument("--mirror", default=DEFAULT_MIRROR, help="package mirror")
    boot.add_argument("--keyring", help="keyring for the suite (e.g. Ubuntu's)")
    boot.add_argument("--components", help="archive areas (default main; main,universe for Ubuntu)")
    boot.add_argument("--tag", help="image tag (default tazpod-bootstrap:SUITE)")
    boot.add_argument("--engine", default="docker", choices=("docker", "podman"))
    action(
        sub, "seccomp", "print tazpod's seccomp profile (for a node's kubelet)", action="seccomp"
    )


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod.engines import get_engine

    if args.action == "seccomp":
        from tazpod.engines import seccomp

        ui.say(seccomp.profile_json())
        return 0
    require_host()
    mmdebstrap = find_tool("mmdebstrap", on_path=True)  # the user's own tool, on the host
    if mmdebstrap is None:
        raise PrivilegeError(
            "mmdebstrap is not installed", hint="apt-get install mmdebstrap (Debian/Ubuntu)"
        )
    engine = get_engine(args.engine)
    tag = args.tag or f"tazpod-bootstrap:{args.suite}"
    with tempfile.TemporaryDirectory(prefix="tazpod-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        command = [
            mmdebstrap,
            "--variant=minbase",
            "--include=apt,ca-certificates",  # Ubuntu suites leave apt out of minbase
            f"--components={components(args)}",
            *(["--keyring", args.keyring] if args.keyring else []),
            args.suite,
            str(rootfs),
            args.mirror,
        ]
        ui.info(f"bootstrapping {args.suite} from {args.mirror} (this takes a minute)")
        try:
            # The user's whole environment: mmdebstrap's proxy, TMPDIR and apt settings.
            run_command(command, env=child_env(inherit=Inherit.EVERYTHING))
        except CommandFailed as err:
            raise EngineError(
                f"mmdebstrap failed ({err.returncode}):\n{err.tail(5)}",
                hint="check the suite name and the mirror URL",
            ) from err
        size = rootfs.stat().st_size // (1024 * 1024)
        ui.info(f"importing the {size} MiB root filesystem as {tag}")
        engine.import_image(rootfs, tag)
    ui.say(
        f"built {tag}; use it with build: {{args: {{BASE_IMAGE: {tag}}}}} in .tazpod/config.yaml"
    )
    return 0
