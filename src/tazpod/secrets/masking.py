"""Hiding secret values in a command's output (`tazpod run --mask`): the stream masker.

Output comes in writes of any size, so a value may arrive in pieces. The masker holds
back only what could still become a value: the longest end of what it was given that
is the beginning of one (nothing at all for output that cannot start a value). What it
holds goes out when more output decides it, or on ``flush`` (a quiet moment, the end),
so a prompt without a newline still appears. What it already let out is remembered
(as long as the longest value), so a value whose beginning went out on a flush still
has the rest hidden.

Every occurrence of every value is replaced, overlapping ones included: the covered
bytes, merged, become one ``***``, so no piece of an overlapping value is left over.
Bytes outside a value (colour and cursor sequences, other text) pass unchanged.

A convenience against shoulder-surfing, logs and transcripts, not a boundary: the
command can print a value encoded, reversed or a character at a time (docs/security.md).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping

from tazpod.secrets.value import Secret

REPLACEMENT = b"***"
MIN_LENGTH = 4  # characters: a shorter value would hide ordinary text, and hides little
LINE_MIN_LENGTH = 16  # a line of a multi-line value is hidden on its own from this length
MAX_LENGTH = 65536  # bytes: longer values are not looked for (files, not passwords)
_HOLD_LIMIT = 4 * MAX_LENGTH  # a run of overlapping matches held back at most this long
FILE_MAX = 4096  # bytes: a mapped file up to this size, of one line, is a value to hide


def vault_values(root: str, environ: Mapping[str, str]) -> list[tuple[str, Secret]]:
    """What to hide, by secret name, as this enclave process finds it (never from argv).

    The vault's dotenv secrets (Infisical's and those set by hand, both, also for one
    name), the same names' values in ``environ`` (a variable set when the enclave
    opened may be older than the file), the Infisical login's client secret and token,
    and the content of each mapped file that is one short line (a token in a file;
    longer files, such as a kubeconfig, are not looked for).
    """
    from pathlib import Path

    from tazpod.errors import TazpodError
    from tazpod.secrets import mapping_table, store

    found: list[tuple[str, Secret]] = []
    for name in (store.INFISICAL_ENV, store.LOCAL_ENV):
        found += store.read_values(Path(root), name).items()
    names = sorted({name for name, _ in found})
    found += [(name, Secret(environ[name])) for name in names if name in environ]
    try:
        identity = store.load_identity(Path(root))
    except TazpodError:
        identity = None
    if identity is not None:
        found.append(("the Infisical client secret", identity.client_secret))
        if identity.access_token is not None:
            found.append(("the Infisical access token", identity.access_token))
    table = mapping_table.read(root)
    for name, file, _env in table.rows if table is not None else []:
        content = _one_line(os.path.join(root, file))
        if content is not None:
            found.append((name, Secret(content)))
    return found


def _one_line(path: str) -> str | None:
    """A regular file's content when it is one line of at most FILE_MAX bytes."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            data = handle.read(FILE_MAX + 1)
    except OSError:
        return None
    text = data.decode(errors="surrogateescape").rstrip("\r\n")
    if len(data) > FILE_MAX or "\n" in text:
        return None
    return text


def too_short(found: Iterable[tuple[str, Secret]]) -> list[str]:
    """The names of the values too short to hide (an empty one hides nothing anyway)."""
    return sorted({name for name, value in found if 0 < len(value.reveal()) < MIN_LENGTH})


def maskable(values: Iterable[str]) -> list[bytes]:
    """The byte strings to hide for these values, longest first.

    A value is hidden as it is (UTF-8); one of several lines also as a terminal shows
    it (CR LF) and line by line (its longer lines: a private key's, a JSON file's).
    """
    wanted: set[bytes] = set()
    for value in values:
        if len(value) < MIN_LENGTH:
            continue
        raw = value.encode(errors="surrogateescape")
        if len(raw) > MAX_LENGTH:
            continue
        wanted.add(raw)
        if "\n" in value:
            wanted.add(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            for line in value.splitlines():
                if len(line.strip()) >= LINE_MIN_LENGTH:
                    wanted.add(line.strip().encode(errors="surrogateescape"))
    return sorted(wanted, key=lambda v: (-len(v), v))


class Masker:
    """One output stream's masker: ``feed`` what the command wrote, write what it returns."""

    def __init__(self, values: Iterable[bytes]) -> None:
        self._values = sorted({v for v in values if v}, key=len, reverse=True)
        self._longest = len(self._values[0]) if self._values else 0
        self._by_first: dict[int, list[bytes]] = {}  # first byte -> values, longest first
        for value in self._values:
            self._by_first.setdefault(value[0], []).append(value)
        self._held = b""  # raw bytes not let out yet
        self._sent = b""  # the raw end of what was let out (for a value split by a flush)
        self._sent_masked = False  # what was let out ended with a value's ***

    @property
    def pending(self) -> bool:
        """Bytes are held back (a ``flush`` after a quiet moment lets them out)."""
        return bool(self._held)

    def feed(self, data: bytes) -> bytes:
        if not self._values:
            return data
        buffer = self._held + data
        text = self._sent + buffer
        return self._let_out(buffer, max(self._hold_from(text) - len(self._sent), 0))

    def flush(self) -> bytes:
        """Everything held back, masked (a value's beginning alone goes out as it is)."""
        if not self._held:
            return b""
        return self._let_out(self._held, len(self._held))

    def _hold_from(self, text: bytes) -> int:
        """Where the longest end of ``text`` that begins a value starts (len: none)."""
        size = len(text)
        view = memoryview(text)
        earliest = size
        for first, values in self._by_first.items():
            start = text.find(first, max(0, size - len(values[0]) + 1), earliest)
            while start >= 0:
                rest = view[start:]
                if any(len(v) > len(rest) and v.startswith(rest) for v in values):
                    earliest = start
                    break
                start = text.find(first, start + 1, earliest)
        return earliest

    def _covered(self, text: bytes, offset: int) -> list[tuple[int, int]]:
        """The merged spans of ``text`` that values cover, from ``offset`` on.

        (One search per value: bytes.find is fast C, where a regular expression of
        alternatives tries each of them at every position.)
        """
        spans = []
        for value in self._values:
            start = text.find(value, max(0, offset - len(value) + 1))
            while start >= 0:
                spans.append((max(start, offset), start + len(value)))
                start = text.find(value, start + 1)  # a value may start inside itself
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _let_out(self, buffer: bytes, hold: int) -> bytes:
        offset = len(self._sent)
        text = self._sent + buffer
        spans = [(s - offset, e - offset) for s, e in self._covered(text, offset)]
        for start, end in spans:
            if start < hold < end:  # never let out part of a value: hold all of it
                hold = start if len(buffer) - start <= _HOLD_LIMIT else end
                break
        out = []
        position = 0
        for start, end in spans:
            if start >= hold:
                break
            # (one *** for a run of values, also when the run goes on in a later write)
            continued = start == 0 and self._sent_masked
            out += [buffer[position:start], b"" if continued else REPLACEMENT]
            position = end
        out.append(buffer[position:hold])
        if hold:
            self._sent_masked = position == hold and bool(spans) and spans[0][0] < hold
        self._held = buffer[hold:]
        self._sent = (self._sent + buffer[:hold])[-self._longest :]
        return b"".join(out)
