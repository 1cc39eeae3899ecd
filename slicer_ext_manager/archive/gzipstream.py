"""A gzip stream decompressed by zlib itself.

``gzip.GzipFile`` inflates raw deflate data and computes the CRC32 of what it produced in
a second C call, through several Python layers per read; ``zlib.decompressobj(31)`` parses
the gzip header, inflates, and checks the CRC32 and length of each member in one call.
Same refusals as ``gzip``: a truncated member (:class:`EOFError`), a damaged one, a bad
checksum or anything after a member that is not another gzip member or zero padding
(:class:`zlib.error`).
Memory is bounded: each read returns at most ``size`` bytes and holds at most one input
chunk.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

__all__ = ["GzipStream"]

#: gzip wrapper, 32 KiB window (``zlib`` rejects anything else than a gzip member).
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_INPUT_CHUNK = 128 * 1024


class GzipStream:
    """``read(size)`` of the decompressed data of every gzip member of ``raw`` in turn."""

    def __init__(self, raw: BinaryIO, input_chunk: int = _INPUT_CHUNK):
        self._raw = raw
        self._chunk = input_chunk
        self._z = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""
        self._in_member = False  # the current decompressor has been given input
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 20
        parts = []
        while size > 0 and not self._done:
            if not self._in_member:
                self._input = self._input.lstrip(b"\0")  # zero padding between members, as gzip allows
            if not self._input:
                if self._fill():
                    continue
                break
            data = self._z.decompress(self._input, size)
            self._in_member = True
            self._input = self._z.unconsumed_tail
            if data:
                parts.append(data)
                size -= len(data)
            if self._z.eof:  # a member ended (CRC and length checked): maybe another follows
                self._input = self._z.unused_data + self._input
                self._z = zlib.decompressobj(_GZIP_WBITS)
                self._in_member = False
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _fill(self) -> bool:
        """More input; False at the end of the data (an error inside a member)."""
        self._input = self._raw.read(self._chunk)
        if self._input:
            return True
        if self._in_member:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        self._done = True
        return False

    def close(self) -> None:
        """The raw file is closed by its owner."""
