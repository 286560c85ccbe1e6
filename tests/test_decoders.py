"""Unit tests for asks._decoders: Content-Encoding decoders and the text charset."""

from __future__ import annotations

import functools
import gzip
import itertools
import random
import tracemalloc
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from asks._decoders import ACCEPT_ENCODING, charset_from_content_type, make_decoder
from asks.errors import DecodingError, ResponseTooLarge

# A body with some structure, long enough to span several deflate blocks.
PLAIN = b"".join(
    b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(3000)
)


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def encode(coding: str, data: bytes) -> bytes:
    return ENCODERS[coding](data)


def decode_whole(content_encoding: str, body: bytes, max_size: int | None = None) -> bytes:
    decoder = make_decoder(content_encoding, max_size)
    assert decoder is not None
    return decoder.decode(body) + decoder.flush()


def decode_in_pieces(
    content_encoding: str, pieces: list[bytes], max_size: int | None = None
) -> bytes:
    decoder = make_decoder(content_encoding, max_size)
    assert decoder is not None
    return b"".join(decoder.decode(p) for p in pieces) + decoder.flush()


def byte_by_byte(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


# -- make_decoder: which codings ----------------------------------------------


@pytest.mark.parametrize("content_encoding", ["", "identity", "IDENTITY", " identity , "])
def test_identity_needs_no_decoder(content_encoding):
    assert make_decoder(content_encoding, None) is None


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_decodes_whole(coding):
    assert decode_whole(coding, encode(coding, PLAIN)) == PLAIN


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_decodes_byte_by_byte_to_the_same_output(coding):
    body = encode(coding, PLAIN[:4000])

    assert decode_in_pieces(coding, byte_by_byte(body)) == PLAIN[:4000]


# Well over one decoded piece (asks._decoders.PIECE) from a small body: the
# decoder must hand out every piece, not stop when its input is used up.
LARGE = PLAIN * 20


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_a_body_decoding_to_many_pieces_decodes_whole(coding):
    assert decode_whole(coding, encode(coding, LARGE)) == LARGE


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_a_body_decoding_to_many_pieces_decodes_in_reads_of_64_kib(coding):
    body = encode(coding, LARGE)
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    assert decode_in_pieces(coding, pieces) == LARGE


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_decodes_an_empty_payload(coding):
    assert decode_whole(coding, encode(coding, b"")) == b""


@pytest.mark.parametrize("content_encoding", ["GZIP", "Gzip", " gzip "])
def test_coding_names_ignore_case_and_whitespace(content_encoding):
    assert decode_whole(content_encoding, gzip.compress(b"x")) == b"x"


def test_deflate_accepts_the_zlib_wrapped_form():
    assert decode_whole("deflate", zlib.compress(PLAIN)) == PLAIN


def test_deflate_accepts_raw_deflate_too():
    assert decode_whole("deflate", raw_deflate(PLAIN)) == PLAIN


def test_raw_deflate_decodes_byte_by_byte():
    body = raw_deflate(PLAIN[:2000])

    assert decode_in_pieces("deflate", byte_by_byte(body)) == PLAIN[:2000]


def test_identity_inside_a_list_is_ignored():
    assert decode_whole("identity, gzip", gzip.compress(b"x")) == b"x"


def test_a_chain_is_undone_right_to_left():
    # "gzip, br": the server gzipped first, then brotli-compressed the result.
    body = brotli.compress(gzip.compress(PLAIN))

    assert decode_whole("gzip, br", body) == PLAIN


def test_a_chain_decodes_byte_by_byte():
    body = zlib.compress(gzip.compress(PLAIN[:2000]))

    assert decode_in_pieces("gzip, deflate", byte_by_byte(body)) == PLAIN[:2000]


def test_the_same_coding_twice_is_undone_twice():
    assert decode_whole("gzip, gzip", gzip.compress(gzip.compress(b"twice"))) == b"twice"


def test_a_chain_in_the_wrong_order_is_a_decoding_error():
    body = brotli.compress(gzip.compress(PLAIN))

    with pytest.raises(DecodingError):
        decode_whole("br, gzip", body)


def test_multi_member_gzip_decodes_every_member():
    # RFC 1952 section 2.2: a gzip file is a series of members; gzip -d and
    # gzip.decompress return them all concatenated.
    body = gzip.compress(b"first member, ") + gzip.compress(b"second member")

    assert decode_whole("gzip", body) == b"first member, second member"


@pytest.mark.parametrize("after", [b"\x00" * 8, b"\x00", b"junk after the member", b"\x1f"])
def test_bytes_after_a_complete_gzip_member_are_ignored(after):
    # Zero padding (tape blocks, some servers) or junk after a whole, checked
    # member: gzip(1), urllib3 and browsers give the member's content.
    body = gzip.compress(b"the whole body") + after

    assert decode_whole("gzip", body) == b"the whole body"
    assert decode_in_pieces("gzip", byte_by_byte(body)) == b"the whole body"


def test_a_second_member_split_at_its_magic_still_decodes():
    body = gzip.compress(b"one, ") + gzip.compress(b"two")
    cut = len(gzip.compress(b"one, ")) + 1  # between \x1f and \x8b
    assert decode_in_pieces("gzip", [body[:cut], body[cut:]]) == b"one, two"


def test_a_truncated_second_gzip_member_is_still_an_error():
    second = gzip.compress(b"second member")
    with pytest.raises(DecodingError):
        decode_whole("gzip", gzip.compress(b"first") + second[: len(second) // 2])


def test_multi_frame_zstd_decodes_every_frame():
    # RFC 8878 section 3.1: a Zstandard stream is one or more frames.
    cctx = zstandard.ZstdCompressor()
    body = cctx.compress(b"first frame, ") + cctx.compress(b"second frame")

    assert decode_whole("zstd", body) == b"first frame, second frame"


class CountingBytes(bytes):
    """Bytes that count what slicing them copies (slices count on)."""

    copied = 0

    def __getitem__(self, key):  # type: ignore[override]
        got = super().__getitem__(key)
        if isinstance(key, slice):
            CountingBytes.copied += len(got)
            return CountingBytes(got)
        return got


def test_zstd_input_is_sliced_without_copying_the_rest_each_time(monkeypatch):
    # zstd input is decoded in small slices (to bound each piece's output).
    # Taking each slice must not copy everything after it too: that is
    # quadratic, seconds of copying for a body of a few MiB fed whole.
    plain = random.Random(5).randbytes(65536)  # incompressible: 64 KiB of input
    body = encode("zstd", plain)
    decoder = make_decoder("zstd", None)
    assert decoder is not None
    monkeypatch.setattr(CountingBytes, "copied", 0)
    decoder._chain[0]._pending = CountingBytes(body)  # what feed(body) would hold

    pieces = []
    while piece := decoder.read():
        pieces.append(piece)
    decoder.finish()

    assert b"".join(pieces) == plain
    assert CountingBytes.copied <= 2 * len(body)


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize("content_encoding", ["compress", "snappy", "gzip, lzma", "x-unknown"])
def test_unknown_coding_is_a_decoding_error(content_encoding):
    with pytest.raises(DecodingError, match="unsupported Content-Encoding"):
        make_decoder(content_encoding, None)


def test_unknown_coding_error_names_only_the_unknown_ones():
    with pytest.raises(DecodingError, match=r"Content-Encoding lzma$"):
        make_decoder("gzip, lzma", None)


def test_decoding_error_is_a_bad_http_response():
    from asks.errors import BadHttpResponse

    with pytest.raises(BadHttpResponse):
        make_decoder("compress", None)


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_corrupt_data_is_a_decoding_error(coding):
    with pytest.raises(DecodingError, match="could not decode"):
        decode_whole(coding, b"\xff\xfe this was never compressed \x00\x01" * 4)


def test_gzip_with_a_bad_checksum_is_a_decoding_error():
    body = bytearray(gzip.compress(PLAIN))
    body[-8] ^= 0xFF  # the CRC-32 in the trailer

    with pytest.raises(DecodingError):
        decode_whole("gzip", bytes(body))


def test_decoding_error_keeps_the_original_as_its_cause():
    decoder = make_decoder("gzip", None)

    with pytest.raises(DecodingError) as info:
        decoder.decode(b"not gzip at all")

    assert isinstance(info.value.__cause__, zlib.error)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_truncated_body_is_a_decoding_error_at_flush(coding):
    body = encode(coding, PLAIN)
    decoder = make_decoder(coding, None)

    decoder.decode(body[: len(body) // 2])

    with pytest.raises(DecodingError):
        decoder.flush()


def test_truncated_gzip_trailer_is_a_decoding_error_at_flush():
    body = gzip.compress(PLAIN)
    decoder = make_decoder("gzip", None)

    assert decoder.decode(body[:-4]) == PLAIN  # all data, trailer cut short

    with pytest.raises(DecodingError):
        decoder.flush()


def test_flush_without_any_data_is_empty():
    assert make_decoder("gzip", None).flush() == b""


# -- max_size -----------------------------------------------------------------


def test_output_up_to_max_size_is_allowed():
    assert decode_whole("gzip", gzip.compress(b"x" * 1000), max_size=1000) == b"x" * 1000


def test_output_beyond_max_size_raises_response_too_large():
    with pytest.raises(ResponseTooLarge, match="limit of 1000 bytes"):
        decode_whole("gzip", gzip.compress(b"x" * 1001), max_size=1000)


def test_max_size_counts_the_total_over_every_piece():
    decoder = make_decoder("deflate", 100)
    body = zlib.compress(b"y" * 150)

    with pytest.raises(ResponseTooLarge):
        for piece in byte_by_byte(body):
            decoder.decode(piece)
        decoder.flush()


def test_response_too_large_is_a_bad_http_response():
    from asks.errors import BadHttpResponse

    assert issubclass(ResponseTooLarge, BadHttpResponse)


BOMB_SIZE = 50 * 1024 * 1024
BOMB_LIMIT = 1024 * 1024


@functools.cache
def bomb(coding: str) -> bytes:
    """50 MiB of zeros, compressed to a few KiB."""
    zeros = bytes(BOMB_SIZE)
    if coding == "br":
        return brotli.compress(zeros, quality=1)
    if coding == "gzip":
        return gzip.compress(zeros, compresslevel=1)
    return encode(coding, zeros)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_decompression_bomb_raises_response_too_large(coding):
    body = bomb(coding)
    assert len(body) < BOMB_LIMIT  # small on the wire

    with pytest.raises(ResponseTooLarge):
        decode_whole(coding, body, max_size=BOMB_LIMIT)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_decompression_bomb_is_stopped_without_inflating_it_in_memory(coding):
    # The decoder promises never to produce much more than max_size: the
    # 50 MiB must not be materialised just to be counted and thrown away.
    body = bomb(coding)
    decoder = make_decoder(coding, BOMB_LIMIT)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            decoder.decode(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * BOMB_LIMIT


def test_a_decompression_bomb_fed_in_pieces_raises_response_too_large():
    body = bomb("gzip")
    decoder = make_decoder("gzip", BOMB_LIMIT)

    with pytest.raises(ResponseTooLarge):
        for start in range(0, len(body), 1024):
            decoder.decode(body[start : start + 1024])


# -- property: any split gives the same output --------------------------------


def splits(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


_PAYLOAD = PLAIN[:3000]
_BODIES = {
    "gzip": gzip.compress(_PAYLOAD),
    "deflate": zlib.compress(_PAYLOAD),
    "raw deflate": raw_deflate(_PAYLOAD),
    "br": brotli.compress(_PAYLOAD),
    "zstd": encode("zstd", _PAYLOAD),
    "gzip, br": brotli.compress(gzip.compress(_PAYLOAD)),
}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(_BODIES)), st.lists(st.integers(min_value=0), max_size=30))
def test_random_splits_decode_to_the_same_output(name, cuts):
    coding = "deflate" if name == "raw deflate" else name
    body = _BODIES[name]

    assert decode_in_pieces(coding, splits(body, cuts)) == _PAYLOAD


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=10))
def test_any_payload_round_trips_through_gzip_in_any_split(payload, cuts):
    body = gzip.compress(payload)

    assert decode_in_pieces("gzip", splits(body, cuts)) == payload


# -- ACCEPT_ENCODING ----------------------------------------------------------


def test_accept_encoding_lists_every_installed_coding():
    assert [c.strip() for c in ACCEPT_ENCODING.split(",")] == ["gzip", "deflate", "br", "zstd"]


def test_accept_encoding_does_not_repeat_gzip_as_x_gzip():
    assert "x-gzip" not in ACCEPT_ENCODING


def test_every_advertised_coding_has_a_decoder():
    for coding in ACCEPT_ENCODING.split(","):
        assert make_decoder(coding, None) is not None


# -- charset_from_content_type ------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=utf-8", "utf-8"),
        ("text/html; charset=UTF-8", "utf-8"),
        ("text/html; CHARSET=utf-8", "utf-8"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/html; charset='utf-8'", "utf-8"),
        ("text/html;charset=utf-8", "utf-8"),
        ("text/html; charset = utf-8", "utf-8"),
        ("text/plain; format=flowed; charset=iso-8859-1; delsp=yes", "iso8859-1"),
        ('multipart/mixed; boundary="a;charset=koi8-r"; charset=utf-8', "utf-8"),
        ("text/plain; charset=latin1", "iso8859-1"),
        ("text/plain; charset=utf8", "utf-8"),
        ("text/plain; charset=Shift_JIS", "shift_jis"),
    ],
)
def test_charset_is_read_from_the_content_type(content_type, charset):
    assert charset_from_content_type(content_type) == charset


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/html",
        "application/json",
        "text/html; charset=",
        'text/html; charset=""',
        "text/html; charset=no-such-charset",
        "text/html; format=charset",
    ],
)
def test_no_usable_charset_gives_none(content_type):
    assert charset_from_content_type(content_type) is None


@pytest.mark.parametrize("codec", ["base64", "rot13"])
def test_a_codec_that_is_not_a_text_encoding_gives_none(codec):
    # codecs.lookup knows these, but bytes.decode(codec) raises LookupError,
    # so response.text would crash instead of using the fallback encoding.
    assert charset_from_content_type(f"text/plain; charset={codec}") is None
