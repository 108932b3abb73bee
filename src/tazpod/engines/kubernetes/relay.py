"""In the pod: a command's standard input, relayed in frames so that it can end.

The Kubernetes exec protocol that clusters before 1.29 speak (v4) cannot close a
command's stdin: `echo hi | tazpod exec -- cat` would never end. So when the host's
stdin is a pipe or a file, the command runs under this relay
(`python -I -m tazpod.engines.kubernetes.relay CMD...`), and the host sends its stdin as
frames: a 4-byte big-endian length, then that many bytes; a zero length is the end,
on which the relay closes the command's stdin. The command's stdout and stderr are the
relay's; its exit code is the relay's.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator

HEADER = struct.Struct(">I")
CHUNK = 64 * 1024


def frame(data: bytes) -> bytes:
    return HEADER.pack(len(data)) + data


END = frame(b"")


def _exactly(fd: int, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = os.read(fd, count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def frames(fd: int) -> Iterator[bytes]:
    """The payloads until the end frame (or until the stream itself ends)."""
    while True:
        header = _exactly(fd, HEADER.size)
        if header is None:
            return
        (length,) = HEADER.unpack(header)
        if length == 0:
            return
        data = _exactly(fd, length)
        if data is None:
            return
        yield data


def main(argv: list[str]) -> int:
    from tazpod.sysio.run import CannotRun, run_fed

    if not argv:
        sys.stderr.write("usage: relay CMD [ARG...]\n")
        return 2
    try:  # the exec's own environment: this is the user's command, as `docker exec` runs it
        return run_fed(argv, frames(0), os.environ)
    except CannotRun as err:
        sys.stderr.write(f"tazpod: cannot run {argv[0]}: {err.reason}\n")
        return 127


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
