"""``http2_engine.FrameLengths``: overlong frames found however the bytes are split."""

from __future__ import annotations

import random

import hyperframe.frame
import pytest

from asks._transport.http2_engine import FrameLengths

LIMIT = 16384
OVERLONG = b"\x00\x40\x01\x00\x00\x00\x00\x00\x01"  # DATA of 16,385 bytes: one too many


def data_frame(size: int) -> bytes:
    frame = hyperframe.frame.DataFrame(1)
    frame.data = bytes(size)
    return frame.serialize()


def feed_in_pieces(blob: bytes, rng: random.Random) -> bool:
    guard = FrameLengths()
    at = 0
    while at < len(blob):
        size = rng.randint(1, 40)
        if not guard.feed(blob[at : at + size], LIMIT):
            return False
        at += size
    return True


@pytest.mark.parametrize("seed", range(200))
def test_frame_boundaries_followed_across_any_split(seed: int) -> None:
    rng = random.Random(seed)
    frames = [data_frame(rng.choice([0, 1, 8, 9, 300, LIMIT])) for _ in range(rng.randint(1, 12))]
    bad = seed % 2 == 1
    if bad:
        frames.insert(rng.randint(0, len(frames)), OVERLONG)
    assert feed_in_pieces(b"".join(frames), rng) is not bad


def test_overlong_length_reported() -> None:
    guard = FrameLengths()
    assert guard.feed(data_frame(10) + b"GARBAGE, NOT A FRAME", LIMIT) is False
    assert guard.overlong == int.from_bytes(b"GAR", "big")
