"""Reading a response body under a cap on its decoded size, so neither a huge body nor a
compression bomb can take the runner's memory.

httpx's own decoders inflate each network read (up to 64 KiB) in one call, which a gzip bomb
turns into ~64 MiB at once; these decode with zlib's `max_length`, a bounded piece at a time, and
stop as soon as the count passes the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterator, Sequence

from resumeflow_core.nodes.base import NodeFailure
from resumeflow_core.reasons import RESPONSE_TOO_LARGE

PIECE_BYTES = 64 * 1024
"""The most one decoding step produces."""

_GZIP_MAGIC = b"\x1f\x8b"


class ResponseTooLargeError(NodeFailure):
    """The decoded body passed `limit` bytes; reading stopped there.

    Attributes:
        limit: The cap, in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(RESPONSE_TOO_LARGE, f"the response body is larger than {limit} bytes")
        self.limit = limit


class BodyDecodingError(Exception):
    """The body is not valid for its Content-Encoding."""


async def read_capped(chunks: AsyncIterable[bytes], content_encoding: str, limit: int) -> bytes:
    """The body of raw `chunks`, decoded as `content_encoding` says, at most `limit` bytes.

    Raises:
        ResponseTooLargeError: The decoded body is over `limit` bytes.
        BodyDecodingError: A gzip or deflate body is corrupt.
    """
    decoders = _decoders(content_encoding)
    body = bytearray()
    try:
        async for chunk in chunks:
            for piece in _feed(decoders, chunk):
                body += piece
                if len(body) > limit:
                    raise ResponseTooLargeError(limit)
        for piece in _flush(decoders):
            body += piece
            if len(body) > limit:
                raise ResponseTooLargeError(limit)
    except zlib.error as exc:
        raise BodyDecodingError(f"the response body is not valid {content_encoding.strip()}") from exc
    return bytes(body)


class _Inflater:
    """gzip or deflate decoding, at most PIECE_BYTES per step."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        # deflate is meant to be zlib-wrapped; some servers send it raw (tried on the first error).
        self._wbits = zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                piece = self._inflate.decompress(data, PIECE_BYTES)
            except zlib.error:
                if self._started or self._gzip:
                    raise
                self._wbits = -zlib.MAX_WBITS
                self._inflate = zlib.decompressobj(self._wbits)
                piece = self._inflate.decompress(data, PIECE_BYTES)
            self._started = True
            data = self._inflate.unconsumed_tail or self._next_member()
            if piece:
                yield piece

    def flush(self) -> bytes:
        return self._inflate.flush()

    def _next_member(self) -> bytes:
        """After a gzip member ends, what follows when it is another member (else it is ignored)."""
        rest = self._inflate.unused_data if self._inflate.eof else b""
        if not (self._gzip and rest.startswith(_GZIP_MAGIC)):
            return b""
        self._inflate = zlib.decompressobj(self._wbits)
        return rest


def _decoders(content_encoding: str) -> list[_Inflater]:
    """Decoders in the order to apply them: the reverse of the order the encodings were applied.

    `identity` and encodings this reader does not know (only gzip and deflate are asked for) are
    read as they are, as httpx does.
    """
    encodings = [part.strip().lower() for part in content_encoding.split(",")]
    return [_Inflater(name) for name in reversed(encodings) if name in ("gzip", "x-gzip", "deflate")]


def _feed(decoders: Sequence[_Inflater], data: bytes) -> Iterator[bytes]:
    if not decoders:
        yield data
        return
    for piece in decoders[0].feed(data):
        yield from _feed(decoders[1:], piece)


def _flush(decoders: Sequence[_Inflater]) -> Iterator[bytes]:
    for index, decoder in enumerate(decoders):
        tail = decoder.flush()
        if tail:
            yield from _feed(decoders[index + 1 :], tail)
