"""The vault's seal: proof that a vault.age was written by the holder of its identity.

age encrypts to a public recipient and authenticates nobody: every process that can
write vault.age (all of its owner's) can encrypt a tar of its choosing to that
recipient. So the archive inside ends with one more member, ``.tazpod/seal``: an
HMAC-SHA256 of every byte before it, under a key derived one way from the identity.
Without the identity nobody can make a seal; with the key alone nobody can decrypt
anything, which is why an open enclave keeps it beside the public recipient (saving
needs both) while the identity itself is dropped after unlock.

The seal is an ordinary tar member, so `age -d -i identity.age vault.age | tar -x`
still recovers everything (and writes the small ``.tazpod/seal`` file too).

Vaults written before seals existed have an identity.age without SEAL_MARKER: they
open once without a seal, and that opening seals vault.age and then adds the marker
(tazpod.vault.ram and age_files), after which a vault.age without a valid seal is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import tarfile
from typing import Any, Protocol

from tazpod.errors import VaultError
from tazpod.sysio.tarstream import HeaderWalk, TarFramingError

SEAL_NAME = ".tazpod/seal"
SEAL_MARKER = "# tazpod: every vault.age of this identity carries its seal (v1)"
_KEY_LABEL = b"tazpod vault seal v1"
_TEXT_PREFIX = b"tazpod-seal-v1 "
_BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * _BLOCK)


class SealError(VaultError):
    """vault.age's archive has no seal, or one this identity did not make."""


class Reader(Protocol):
    def read(self, size: int = -1) -> bytes: ...


def key_for(identity: Any) -> bytes:
    """The sealing key of an age identity (one way: it reveals nothing of the identity)."""
    return hmac.new(str(identity).encode(), _KEY_LABEL, hashlib.sha256).digest()


def _member(mac: bytes) -> bytes:
    """The seal's tar member (ustar header and one data block), for a finished MAC."""
    text = _TEXT_PREFIX + mac.hex().encode() + b"\n"
    info = tarfile.TarInfo(SEAL_NAME)
    info.size, info.mode, info.mtime = len(text), 0o600, 0
    header = info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")
    return header + text + b"\0" * (_BLOCK - len(text))


def _body_end(archive: bytes) -> tuple[int, list[tarfile.TarInfo]]:
    """Where the archive's last member ends (its end-of-archive blocks start), and its members."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            members = tar.getmembers()
            return tar.offset, members
    except tarfile.TarError as err:
        raise VaultError(f"vault archive is damaged: {err}") from err


def sign(archive: bytes, key: bytes) -> bytes:
    """``archive`` (a tar) ending with its seal instead of its end-of-archive blocks."""
    end, _members = _body_end(archive)
    body = archive[:end]
    return body + _member(hmac.new(key, body, hashlib.sha256).digest()) + END_OF_ARCHIVE


def verify(archive: bytes, key: bytes, required: bool) -> tuple[bytes, bool]:
    """The archive without its seal, and whether it had one; VaultError for a bad seal.

    A missing seal is refused when ``required``; a seal that does not match is refused
    always. Only the bytes the seal covers are returned, so nothing after it is unpacked.
    """
    _end, members = _body_end(archive)
    last = members[-1] if members else None
    if last is None or last.name != SEAL_NAME:
        if required:
            raise SealError("it carries no seal of this vault's identity")
        return archive, False
    data = archive[last.offset_data : last.offset_data + last.size]
    body = archive[: last.offset]
    expected = _TEXT_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n"
    if not last.isreg() or not hmac.compare_digest(data, expected):
        raise SealError("its seal was not made with this vault's identity")
    return body + END_OF_ARCHIVE, True


class SealingReader:
    """A tar stream read through, its end-of-archive blocks replaced by the seal.

    The stream's headers are followed (each gives the size of the data after it) so
    that the first all-zero header block, where the end-of-archive starts, is known
    whatever the source's record size; bytes before it pass through as they come.
    """

    def __init__(self, source: Reader, key: bytes):
        self._source = source
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._pending = bytearray()  # read from the source, not yet handed on
        self._base = 0  # the source offset of _pending[0]
        self._headers = HeaderWalk()
        self._ready = bytearray()
        self._ended = False
        # Why reading stopped: a consumer that wraps the reader's errors (pyrage does)
        # names this cause, not its own.
        self.failure: VaultError | None = None

    def _walk(self) -> None:
        try:
            self._headers.walk(self._pending, self._base)
        except TarFramingError as err:
            raise VaultError(f"the vault's archive has {err}") from err

    def _hand_on(self, upto: int) -> None:
        count = max(min(upto - self._base, len(self._pending)), 0)
        if count:
            chunk = bytes(self._pending[:count])
            del self._pending[:count]
            self._base += count
            self._mac.update(chunk)
            self._ready += chunk

    def _pull(self) -> None:
        chunk = self._source.read(1 << 16)
        if chunk:
            self._pending += chunk
            self._walk()
            self._hand_on(self._headers.next if self._headers.end is None else self._headers.end)
            if self._headers.end is not None:
                if self._pending.strip(b"\0"):
                    raise VaultError("the vault's archive has data after its end")
                self._pending.clear()
            return
        if self._headers.end is None or self._pending.strip(b"\0"):
            raise VaultError("the vault's archive did not end as a tar archive ends")
        self._ready += _member(self._mac.digest()) + END_OF_ARCHIVE
        self._ended = True

    def read(self, size: int = -1) -> bytes:
        try:
            while not self._ended and (size < 0 or len(self._ready) < size):
                self._pull()
        except VaultError as err:
            self.failure = err
            raise
        if size < 0 or size >= len(self._ready):
            out, self._ready = bytes(self._ready), bytearray()
            return out
        out = bytes(self._ready[:size])
        del self._ready[:size]
        return out
