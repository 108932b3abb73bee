"""`tazpod doctor-probe` (internal): the container side of `tazpod doctor`'s live probes.

`--discover` (root): the open enclaves, their mount points and user processes, as JSON.
`--pid N --mount-point PATH` (any identity): each route into that enclave process tried
once, as JSON: refused, allowed or absent. See tazpod.doctor.probe.
"""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--discover", action="store_true")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--mount-point")


def run(args: argparse.Namespace, ui: UI) -> int:
    import json
    import os

    from tazpod.doctor import probe
    from tazpod.errors import PrivilegeError, UsageError

    if args.discover:
        if os.geteuid() != 0:
            raise PrivilegeError("doctor-probe --discover is root's (the enclaves' doors are)")
        ui.say(json.dumps(probe.discover()))
        return 0
    if args.pid is None or not args.mount_point:
        raise UsageError("doctor-probe needs --discover, or --pid and --mount-point")
    ui.say(json.dumps(probe.attempts(args.pid, args.mount_point)))
    return 0
