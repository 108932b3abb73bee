"""A tar stream's framing, followed as it passes: where each header starts, and the end.

Shared by the vault's seal (which replaces the end-of-archive blocks as tar streams by)
and `workspace pull` (which walks a hostile archive before tarfile reads it). Each header
gives the size of the data after it, so the first all-zero header block, where the
end-of-archive starts, is found whatever the writer's record size.
"""

from __future__ import annotations

import tarfile

BLOCK = 512
_SPECIAL = (b"x", b"g", b"L", b"K")  # pax and GNU long-name headers: metadata, read whole


class TarFramingError(ValueError):
    """A header that cannot be read, or a metadata header over the limit."""


class HeaderWalk:
    def __init__(self, metadata_limit: int | None = None) -> None:
        self.next = 0  # the stream offset of the next header block
        self.end: int | None = None  # where the end-of-archive blocks start, once seen
        self._limit = metadata_limit

    def walk(self, buffer: bytes | bytearray, base: int) -> None:
        """Follow the headers that ``buffer`` (the stream from offset ``base``) holds."""
        while self.end is None:
            at = self.next - base
            if at < 0 or at + BLOCK > len(buffer):
                return
            block = bytes(buffer[at : at + BLOCK])
            if not any(block):
                self.end = self.next
                return
            try:
                size = tarfile.nti(block[124:136])  # type: ignore[attr-defined]
            except tarfile.HeaderError as err:
                raise TarFramingError("a header that cannot be read") from err
            if size < 0:
                raise TarFramingError("a header with a negative size")
            if self._limit is not None and block[156:157] in _SPECIAL and size > self._limit:
                raise TarFramingError(f"a metadata header over {self._limit} bytes")
            self.next += BLOCK + -(-size // BLOCK) * BLOCK
