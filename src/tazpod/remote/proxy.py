"""The host's side of `tazpod ssh --stdio`: the ssh protocol on our stdin and stdout,
carried by the engine's exec to `sshd -i` in the container (tazpod.remote.sshd).

What OpenSSH's `ProxyCommand` runs: no port is opened on the host or in the container,
and the engine's exec (Docker's API, Podman's CLI, Kubernetes' exec stream) is the
transport, with its own access rules. The first line on the exec's stdin is the
header root in the container reads before it starts sshd.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from tazpod.remote.keys import ProjectKeys

CHUNK = 65536


def header(keys: ProjectKeys, user: str) -> bytes:
    fields = {
        "user": user,
        "authorized_key": keys.client_public(),
        "host_key": keys.host_private(),
    }
    return json.dumps(fields).encode() + b"\n"


def _stdin_chunks() -> Iterator[bytes]:
    while data := os.read(0, CHUNK):
        yield data


def carry(engine: Any, name: str, argv: Sequence[str], preamble: bytes) -> int:
    """Run ``argv`` as root in the container on our stdin (after ``preamble``) and stdout;
    its exit code."""
    attach = getattr(engine, "attach", None)
    if attach is not None:  # Docker: the exec API on the engine's socket
        return int(attach(name, argv, "0", False, None, preamble=preamble))
    stdio = getattr(engine, "stdio", None)
    if stdio is not None:  # Kubernetes: the exec stream, through the pod's stdin relay
        return int(stdio(name, argv, preamble))
    from tazpod.sysio.environ import Inherit, child_env
    from tazpod.sysio.run import run_fed

    command = engine.exec_argv(name, list(argv), "0", False, None)
    chunks = itertools.chain([preamble], _stdin_chunks())
    return run_fed(command, chunks, child_env(inherit=Inherit.EVERYTHING))
