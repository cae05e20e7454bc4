"""Reading a response body under a cap on its decoded size: counting, decoding, stopping early."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest

from resumeflow_core.nodes.response_body import BodyDecodingError, ResponseTooLargeError, read_capped

MIB = 1024 * 1024


class Chunks:
    """Raw chunks as the network would hand them over, counting how many were pulled."""

    def __init__(self, data: bytes, size: int = 16 * 1024) -> None:
        self._pieces = [data[i : i + size] for i in range(0, len(data), size)]
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            self.pulled += 1
            yield piece


async def test_a_body_up_to_the_cap_is_read_whole() -> None:
    assert await read_capped(Chunks(b"x" * 1000), "", 1000) == b"x" * 1000


async def test_one_byte_over_the_cap_fails_naming_the_cap() -> None:
    with pytest.raises(ResponseTooLargeError) as caught:
        await read_capped(Chunks(b"x" * 1001), "identity", 1000)

    assert caught.value.code == "RESPONSE_TOO_LARGE" and caught.value.limit == 1000


async def test_reading_stops_at_the_cap_without_pulling_the_rest() -> None:
    chunks = Chunks(b"x" * MIB, size=1024)

    with pytest.raises(ResponseTooLargeError):
        await read_capped(chunks, "", 10 * 1024)

    assert chunks.pulled == 11


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("deflate", zlib.compress, id="deflate-zlib"),
        pytest.param("deflate", lambda d: zlib.compress(d, wbits=-zlib.MAX_WBITS), id="deflate-raw"),
        pytest.param("deflate, gzip", lambda d: gzip.compress(zlib.compress(d)), id="chained"),
        pytest.param("gzip", lambda d: gzip.compress(d[:500]) + gzip.compress(d[500:]), id="two-members"),
    ],
)
async def test_encoded_bodies_are_decoded(encoding: str, encode: object) -> None:
    data = bytes(range(256)) * 40
    assert callable(encode)

    assert await read_capped(Chunks(encode(data), size=100), encoding, len(data)) == data


async def test_the_decoded_size_is_capped_not_the_size_on_the_wire() -> None:
    bomb = gzip.compress(b"\0" * (4 * MIB))  # ~4 KiB on the wire

    with pytest.raises(ResponseTooLargeError):
        await read_capped(Chunks(bomb), "gzip", MIB)


async def test_a_gzip_bomb_is_stopped_with_memory_bounded_by_the_cap() -> None:
    """100 MiB of zeros in ~100 KiB: decoding stops within one 64 KiB piece past a 1 MiB cap."""
    bomb = gzip.compress(b"\0" * (100 * MIB), compresslevel=9)
    chunks = Chunks(bomb, size=64 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            await read_capped(chunks, "gzip", MIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert chunks.pulled == 1
    assert peak < 4 * MIB  # httpx's decoder would hold the whole ~64 MiB a chunk inflates to


async def test_a_corrupt_body_is_a_decoding_error() -> None:
    with pytest.raises(BodyDecodingError, match="not valid gzip"):
        await read_capped(Chunks(b"not gzip at all"), "gzip", MIB)


async def test_unknown_encodings_are_read_as_they_are() -> None:
    assert await read_capped(Chunks(b"raw"), "br", 10) == b"raw"
