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
    """With ``metadata_limit`` (a hostile stream): metadata headers over it are refused, and
    so are what would make tarfile frame members otherwise than their headers say: a pax
    `size` (GNU tar writes one only for files over 8 GiB) and sparse members."""

    def __init__(self, metadata_limit: int | None = None) -> None:
        self.next = 0  # the stream offset of the next header block
        self.end: int | None = None  # where the end-of-archive blocks start, once seen
        self.pending: int | None = None  # a pax header waiting for its data (hostile mode)
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
            kind = block[156:157]
            if self._limit is not None:
                if kind in _SPECIAL and size > self._limit:
                    raise TarFramingError(f"a metadata header over {self._limit} bytes")
                if kind == b"S":
                    raise TarFramingError("a sparse member")
                if kind in (b"x", b"g"):
                    if at + BLOCK + size > len(buffer):
                        self.pending = self.next  # its records are read before it is passed
                        return
                    _check_pax(bytes(buffer[at + BLOCK : at + BLOCK + size]))
            self.pending = None
            self.next += BLOCK + -(-size // BLOCK) * BLOCK


def _check_pax(data: bytes) -> None:
    """Refuse pax records that change a member's size (tarfile would follow them)."""
    position = 0
    while position < len(data) and data[position : position + 1] != b"\0":
        try:
            space = data.index(b" ", position)
            length = int(data[position:space])
        except ValueError:
            length = 0
        if length <= 0:
            raise TarFramingError("a pax header that cannot be read")
        key = data[space + 1 : position + length].split(b"=", 1)[0]
        if key == b"size" or key.startswith(b"GNU.sparse"):
            raise TarFramingError("a pax record that changes a member's size (or sparseness)")
        position += length
