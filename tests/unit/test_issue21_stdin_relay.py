"""Issue 21, item 10: `echo hi | tazpod exec -- cat` in a pod. The exec protocol cannot
close a command's stdin, so the pod runs the command under the relay, which ends its
stdin at the end frame. The relay is run here for real, as the pod runs it.
"""

from __future__ import annotations

import subprocess
import sys

from tazpod.engines.kubernetes.relay import END, frame

RELAY = [sys.executable, "-I", "-m", "tazpod.engines.kubernetes.relay"]


def _relay(*argv: str, frames: bytes, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*RELAY, *argv], input=frames, capture_output=True, timeout=timeout)


def test_the_command_reads_what_was_sent_then_end_of_input() -> None:
    data = b"hi\n" + bytes(range(256)) * 1000
    chunks = b"".join(frame(data[i : i + 7000]) for i in range(0, len(data), 7000))
    done = _relay("cat", frames=chunks + END)
    assert done.returncode == 0 and done.stdout == data


def test_the_end_frame_ends_input_even_while_the_stream_stays_open() -> None:
    process = subprocess.Popen(
        [*RELAY, "sh", "-c", "cat; echo after-eof; exit 7"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(frame(b"hi\n") + END)
    process.stdin.flush()  # the stream (our pipe) stays open, as a v4 exec stream does
    assert process.stdout.read() == b"hi\nafter-eof\n"
    assert process.wait(timeout=20) == 7
    process.stdin.close()


def test_a_command_that_stops_reading_ends_the_relay() -> None:
    big = frame(b"x" * 60000) * 50
    done = _relay("head", "-c", "3", frames=big + END)
    assert done.returncode == 0 and done.stdout == b"xxx"


def test_a_missing_command_is_127() -> None:
    done = _relay("no-such-command-here", frames=END)
    assert done.returncode == 127 and b"cannot run no-such-command-here" in done.stderr


def test_a_command_that_ends_ends_the_relay_while_input_is_still_open() -> None:
    """`tazpod exec -- sh -c 'exit 4'` from a script whose stdin never closes."""
    process = subprocess.Popen([*RELAY, "sh", "-c", "exit 4"], stdin=subprocess.PIPE)
    assert process.wait(timeout=20) == 4  # no frame sent, the stream still open
    assert process.stdin is not None
    process.stdin.close()
