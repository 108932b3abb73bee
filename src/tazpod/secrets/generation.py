"""The enclave's secrets generation: one line that changes whenever `tazpod env`'s may.

    <vault>/.tazpod/generation     a random token and a newline (unsaved, 0600)

Everything that changes what `tazpod env` prints replaces it after its own writes:
`tazpod pull` and `tazpod secrets set|unset|import` (through tazpod.secrets.store), a
new table of approved mappings (tazpod.secrets.mapping_table), and the enclave's opening.
The enclave shell's prompt hook (tazpod.enclave.shellstate) reads it with a shell
builtin and runs `tazpod env` only when it differs from the one that shell applied last;
`tazpod run --restart-on-change` reads it from the root side. A token, not a counter:
two changes at the same moment never leave one value that both shells saw already.

This module imports only ``os`` and ``stat`` (loaded by ``os`` already): mapping_table,
on the prompt's path, calls it.
"""

from __future__ import annotations

import os
import stat

CONTROL_DIR = ".tazpod"  # tazpod.enclave.control.CONTROL_DIR, without importing it
NAME = "generation"
_MAX = 64  # bytes read at most: the token is 24 hex digits


def path(vault_root: str | os.PathLike[str]) -> str:
    return os.path.join(vault_root, CONTROL_DIR, NAME)


def bump(vault_root: str | os.PathLike[str]) -> None:
    """A new generation (as the enclave's user): temp file, then rename over the old one.

    Nothing happens without the control directory (no enclave opened this vault: nobody
    to tell). No fsync: the file lives only as long as the open enclave.
    """
    control = os.path.join(vault_root, CONTROL_DIR)
    if not os.path.isdir(control):
        return
    token = os.urandom(12).hex()
    tmp = os.path.join(control, f".{NAME}.tmp-{os.urandom(6).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.write(fd, f"{token}\n".encode())
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(control, NAME))
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def read(vault_root: str | os.PathLike[str]) -> str:
    """The current generation, "" when there is none. Safe to call as root.

    The control directory is the user's: no symbolic link is followed (the directory's
    or the file's), nothing but a regular file is read (a FIFO there would block
    root), and only the first line of at most 64 bytes counts.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        directory = os.open(os.path.join(vault_root, CONTROL_DIR), flags | os.O_DIRECTORY)
    except OSError:
        return ""
    try:
        fd = os.open(NAME, flags | os.O_NONBLOCK, dir_fd=directory)
    except OSError:
        return ""
    finally:
        os.close(directory)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        data = os.read(fd, _MAX)
    except OSError:
        return ""
    finally:
        os.close(fd)
    line = data.split(b"\n", 1)[0]
    return line.decode("ascii", "replace") if line.isascii() and line.isalnum() else ""
