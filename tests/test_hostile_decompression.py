"""Hostile servers: decompression bombs and corrupt compressed data.

reliability.md row 16: bounded memory while streaming a bomb, a configurable
limit when buffering, DecodingError for corrupt data. Shared helpers and the
invariants every case checks: tests/hostile_helpers.py.
"""

from __future__ import annotations

import functools
import gzip
import tracemalloc
import zlib

import pytest

import asks
from asks.errors import DecodingError, ResponseTooLarge
from tests.hostile_helpers import CALL_TIMEOUT, MODES, assert_released, fetch
from tests.servers import canned

# --------------------------------------------------------------------------
# Row 16: decompression bombs and corrupt compressed data


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes (about 1000:1)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    out = [compressor.compress(block) for _ in range(size >> 20)]
    out.append(compressor.flush())
    return b"".join(out)


BOMB = 320 * 1024 * 1024  # over the 256 MiB default of max_decoded_size


def encoded_answer(coding: bytes, payload: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
        % (coding, len(payload))
        + payload
    )


def bomb_answer(layers: int) -> bytes:
    payload = gzip_bomb(BOMB)
    for _ in range(layers - 1):
        payload = gzip.compress(payload)
    return encoded_answer(b", ".join([b"gzip"] * layers), payload)


def traced_peak(start: bool) -> int:
    if start:
        tracemalloc.start()
        return 0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.curio_timeout(60)
@pytest.mark.parametrize("layers", [1, 2], ids=["gzip", "gzip-gzip"])
async def test_row16_streamed_bomb_decodes_in_bounded_memory(raw_server, layers):
    server = await raw_server(canned(bomb_answer(layers)))
    async with asks.Session() as s:
        total = 0
        biggest = 0
        traced_peak(start=True)
        try:
            r = await s.get(server.url, stream=True, timeout=CALL_TIMEOUT)
            async for chunk in r.body(timeout=CALL_TIMEOUT):
                total += len(chunk)
                biggest = max(biggest, len(chunk))
                del chunk
        finally:
            peak = traced_peak(start=False)
        print(f"bomb {layers=}: {total=} {biggest=} {peak=}")
        assert total == BOMB
        # 320 MiB came through; memory held at once stays per-read sized.
        assert peak < 32 * 1024 * 1024, f"peak {peak >> 20} MiB, largest chunk {biggest >> 20} MiB"


@pytest.mark.curio_timeout(60)
@pytest.mark.parametrize("layers", [1, 2], ids=["gzip", "gzip-gzip"])
async def test_row16_buffered_bomb_hits_the_configured_limit_in_bounded_memory(raw_server, layers):
    server = await raw_server(canned(bomb_answer(layers)))
    async with asks.Session(max_decoded_size=4 * 1024 * 1024) as s:
        traced_peak(start=True)
        try:
            with pytest.raises(ResponseTooLarge):
                r = await s.get(server.url, timeout=CALL_TIMEOUT)
                r.content  # noqa: B018 - the decoding happens here
        finally:
            peak = traced_peak(start=False)
        assert peak < 32 * 1024 * 1024, f"peak {peak >> 20} MiB for a 4 MiB limit"
        assert s._pool.open == s._pool.idle  # nothing busy left behind


@pytest.mark.curio_timeout(60)
async def test_row16_buffered_bomb_hits_the_default_limit(raw_server):
    server = await raw_server(canned(bomb_answer(1)))
    async with asks.Session() as s:
        with pytest.raises(ResponseTooLarge):
            r = await s.get(server.url, timeout=CALL_TIMEOUT)
            r.content  # noqa: B018


def corrupt_cases() -> list:
    good = gzip.compress(b"hello world" * 100)
    return [
        pytest.param(b"gzip", b"\x1f\x8b\x08\x00garbage-garbage-garbage", id="gzip-garbage"),
        pytest.param(b"gzip", good[: len(good) // 2], id="gzip-truncated"),
        pytest.param(b"gzip", good[:-8] + b"\x00" * 8, id="gzip-bad-crc"),
        pytest.param(b"deflate", b"\xff" * 64, id="deflate-garbage"),
        pytest.param(b"gzip, gzip", good, id="claims-two-layers-has-one"),
        pytest.param(b"snappy", b"whatever", id="unknown-coding"),
    ]


@MODES
@pytest.mark.parametrize(("coding", "payload"), corrupt_cases())
async def test_row16_corrupt_compressed_body_is_decoding_error(
    raw_server, stream, coding, payload
):
    server = await raw_server(canned(encoded_answer(coding, payload)))
    async with asks.Session() as s:
        with pytest.raises(DecodingError):
            await fetch(s, server.url, stream=stream)
        if stream:
            assert_released(s)
        # Buffered, the framing was sound and the body read whole: the
        # connection may be pooled; either way no slot is busy.
        assert s._pool.open == s._pool.idle
