"""Where passphrases come from: a terminal prompt, a file, or an inherited fd.

Never from argv or the environment. A file or fd gives one line (the
trailing newline is dropped); a terminal asks twice for a new vault and
allows three attempts for an existing one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tazpod.errors import UsageError, WrongPassphraseError

ATTEMPTS = 3
T = TypeVar("T")


@dataclass(frozen=True)
class PassphraseSource:
    file: str | None = None
    fd: int | None = None
    value: str | None = field(default=None, repr=False)  # read ahead, see resolved()

    @property
    def interactive(self) -> bool:
        return self.file is None and self.fd is None and self.value is None

    def resolved(self) -> PassphraseSource:
        """Read a file/fd source now (e.g. as root, before acting as the user)."""
        if self.interactive or self.value is not None:
            return self
        value = read_noninteractive(self)
        if self.fd is not None:
            os.close(self.fd)  # never let an enclave process inherit it
        return replace(self, value=value, file=None, fd=None)


def _first_line(data: bytes, origin: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"the passphrase from {origin} is not UTF-8 text") from err
    line = text.split("\n", 1)[0].removesuffix("\r")
    if not line:
        raise UsageError(f"the passphrase from {origin} is empty")
    return line


def _fd_hint(fd: int, err: OSError) -> str:
    import errno

    if err.errno == errno.EBADF and fd > 2 and os.environ.get("SUDO_UID"):
        return (
            "sudo closes every descriptor above 2, so the one opened for it is gone: give the"
            " passphrase on standard input instead (`sudo tazpod ... --passphrase-fd 0 <FILE`)"
            " or name the file (`--passphrase-file FILE`)"
        )
    return f"open it in the calling shell, e.g. `--passphrase-fd {fd} {fd}<passfile`"


def _read_fd(fd: int) -> bytes:
    chunks = []
    try:
        while True:  # byte by byte: what follows the line stays for whoever reads next
            chunk = os.read(fd, 1)
            if not chunk or chunk == b"\n":
                break
            chunks.append(chunk)
    except OSError as err:
        raise UsageError(
            f"cannot read the passphrase from file descriptor {fd}: {err.strerror}",
            hint=_fd_hint(fd, err),
        ) from err
    return b"".join(chunks)


def read_noninteractive(source: PassphraseSource) -> str:
    if source.value is not None:
        return source.value
    if source.file is not None:
        path = Path(source.file)
        try:
            return _first_line(path.read_bytes(), str(path))
        except OSError as err:
            raise UsageError(f"cannot read passphrase file {path}: {err.strerror}") from err
    assert source.fd is not None
    return _first_line(_read_fd(source.fd), f"file descriptor {source.fd}")


def _prompt(label: str) -> str:
    import getpass

    try:
        with open("/dev/tty", "r+b", buffering=0):
            pass
    except OSError as err:
        raise UsageError(
            "no terminal to ask for the passphrase",
            hint="use --passphrase-file FILE or --passphrase-fd FD",
        ) from err
    value = getpass.getpass(label)
    if not value:
        raise UsageError("the passphrase is empty")
    return value


def new_passphrase(source: PassphraseSource, what: str = "new vault") -> str:
    if not source.interactive:
        return read_noninteractive(source)
    first = _prompt(f"passphrase for the {what}: ")
    if _prompt("repeat the passphrase: ") != first:
        raise UsageError("the two passphrases differ; nothing was created")
    return first


def with_passphrase(
    source: PassphraseSource, attempt: Callable[[str], T], on_retry: Callable[[int], None]
) -> T:
    """Call ``attempt`` with a passphrase; retry a wrong one up to 3 times on a terminal.

    ``on_retry`` is told how many attempts are left after each wrong one. The
    one retry loop: callers go through tazpod.vault.unlocking.
    """
    if not source.interactive:
        return attempt(read_noninteractive(source))
    for remaining in range(ATTEMPTS - 1, -1, -1):
        try:
            return attempt(_prompt("vault passphrase: "))
        except WrongPassphraseError:
            if remaining == 0:
                raise
            on_retry(remaining)
    raise AssertionError("unreachable")
