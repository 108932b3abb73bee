"""A minimal expect: drive a program through a real terminal (getpass and age need one)."""

from __future__ import annotations

import os
import pty
import re
import select
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class PtySession:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        size: tuple[int, int] | None = None,
    ) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            try:
                if size is not None:  # (rows, columns), before the program starts
                    import fcntl
                    import struct
                    import termios

                    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
                os.chdir(cwd)
                os.execvpe(argv[0], list(argv), dict(env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = ""  # everything the program printed, for assertions and failure messages
        self._unread = ""  # what no expect() has consumed yet

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """Wait for `pattern` in the output not consumed yet; consume it up to the match.

        Whatever followed the match in the same read stays for the next expect(), so two
        prompts that arrive in one chunk are both seen, in order.
        """
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while (match := regex.search(self._unread)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} not seen; output so far:\n{self.output}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = self._read()
                if not chunk:
                    raise AssertionError(f"{pattern!r} not seen before EOF:\n{self.output}")
        self._unread = self._unread[match.end() :]
        return match.group(0)

    def _read(self) -> str:
        try:
            chunk = os.read(self.fd, 4096).decode(errors="replace")
        except OSError:  # EIO: the child closed the terminal
            chunk = ""
        self.output += chunk
        self._unread += chunk
        return chunk

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                self._read()
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"process did not exit; output:\n{self.output}")
