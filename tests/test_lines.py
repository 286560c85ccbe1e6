"""asks._lines: the cutters behind StreamBody.text/lines/byte_lines/chunks.

Pure logic, no sockets. Every input is fed whole, byte by byte, and in every
possible split: the answer must never depend on how the network cut the body.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import AnyStr

import pytest

from asks._lines import (
    DEFAULT_MAX_LINE_LENGTH,
    LineSplitter,
    Rechunker,
    TextDecoder,
    byte_line_splitter,
    check_size,
    text_line_splitter,
)
from asks.errors import LineTooLong, ResponseTooLarge


def splits(data: AnyStr) -> Iterator[list[AnyStr]]:
    """Every way to cut *data* into consecutive pieces (2 ** (n - 1) of them)."""
    n = len(data)
    for cuts in itertools.product((False, True), repeat=max(n - 1, 0)):
        pieces, start = [], 0
        for i, cut in enumerate(cuts, 1):
            if cut:
                pieces.append(data[start:i])
                start = i
        pieces.append(data[start:])
        yield pieces


def run(splitter: LineSplitter[AnyStr], pieces: Sequence[AnyStr]) -> list[AnyStr]:
    out: list[AnyStr] = []
    for piece in pieces:
        out += splitter.feed(piece)
    return out + splitter.flush()


# Every line end alone, doubled, mixed, at the start, at the end, and none.
ENDINGS = [
    "",
    "abc",
    "a\nb",
    "a\r\nb",
    "a\rb",
    "a\n",
    "a\r\n",
    "a\r",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "\r\r",
    "\n\r",
    "\r\n\r\n",
    "\r\n\n",
    "\r\r\n",
    "a\r\rb",
    "a\n\nb\n",
    "\nab\r\ncd\ref\n\r\n",
    "x\r\n\ry\n",
]


def reference(text: str) -> list[str]:
    # bytes.splitlines cuts at exactly CR LF, LF and CR; none of those bytes
    # occurs inside a multi-byte UTF-8 character.
    return [line.decode() for line in text.encode().splitlines()]


@pytest.mark.parametrize("text", ENDINGS)
def test_text_lines_in_every_split(text):
    expected = reference(text)
    for pieces in splits(text):
        assert run(text_line_splitter(100), pieces) == expected, pieces


@pytest.mark.parametrize("text", ENDINGS)
def test_byte_lines_in_every_split(text):
    data = text.encode()
    expected = data.splitlines()
    for pieces in splits(data):
        assert run(byte_line_splitter(100), pieces) == expected, pieces


def test_a_longer_text_byte_by_byte_and_whole():
    text = "first\r\nsecond\nthird\r\rfifth\r\n\r\nseventh é€𝄞\rlast" * 50
    expected = reference(text)
    assert run(text_line_splitter(1000), [text]) == expected
    assert run(text_line_splitter(1000), list(text)) == expected
    data = text.encode()
    assert run(byte_line_splitter(1000), [data[i : i + 1] for i in range(len(data))]) == (
        data.splitlines()
    )


def test_cr_ending_a_piece_then_lf_starting_the_next_is_one_line_end():
    s = text_line_splitter(100)
    # The line is handed over at the CR, not held back for the next piece.
    assert s.feed("one\r") == ["one"]
    assert s.feed("") == []  # an empty piece between them changes nothing
    assert s.feed("\ntwo\r") == ["two"]
    assert s.feed("\r") == [""]  # CR then CR: an empty line
    assert s.feed("\n") == []
    assert s.flush() == []


def test_empty_lines_are_empty_strings():
    assert run(text_line_splitter(10), ["\n\n\n"]) == ["", "", ""]
    assert run(text_line_splitter(10), ["\r\n", "\r\n", "x"]) == ["", "", "x"]


def test_no_trailing_newline_still_gives_the_last_line():
    assert run(text_line_splitter(10), ["ab", "c"]) == ["abc"]
    assert run(byte_line_splitter(10), [b"a\nb", b"c"]) == [b"a", b"bc"]


def test_only_cr_lf_and_crlf_end_lines():
    # str.splitlines() would also cut at these; no line protocol does.
    text = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i"
    for pieces in (list(text), [text]):
        assert run(text_line_splitter(100), pieces) == [text]


@pytest.mark.parametrize(
    "text",
    ["abcde", "abcde\n", "ab\nabcde\r\nab", "\r\nabcde", "abcd\nabcde", "abcdefghij\n"],
)
def test_an_over_long_line_raises_in_every_split(text):
    for pieces in splits(text):
        s = text_line_splitter(4, "GET http://h/: ")
        with pytest.raises(LineTooLong) as info:
            run(s, pieces)
        assert str(info.value) == "GET http://h/: a line is longer than 4 characters"


@pytest.mark.parametrize("text", ["abcd", "abcd\r\n", "abcd\rabcd\nabcd", "\n\nabcd\r\n\r\n"])
def test_a_line_of_exactly_the_limit_passes_in_every_split(text):
    # The line end does not count towards the length.
    for pieces in splits(text):
        assert run(text_line_splitter(4), pieces) == reference(text)


def test_an_over_long_line_raises_before_its_end_arrives():
    # Memory is bounded: a server that never sends a line end cannot make
    # the splitter keep more than the limit.
    s = byte_line_splitter(8)
    assert s.feed(b"12345") == []
    with pytest.raises(LineTooLong, match="longer than 8 bytes"):
        s.feed(b"6789")


def test_line_too_long_is_a_response_too_large():
    assert issubclass(LineTooLong, ResponseTooLarge)


def test_the_default_limit_is_64_kib():
    assert DEFAULT_MAX_LINE_LENGTH == 65536
    s = byte_line_splitter(DEFAULT_MAX_LINE_LENGTH)
    assert s.feed(b"x" * 65536 + b"\n") == [b"x" * 65536]
    with pytest.raises(LineTooLong, match="65,536"):
        s.feed(b"x" * 65537)


# -- text decoding ----------------------------------------------------------


def decode(decoder: TextDecoder, pieces: Sequence[bytes]) -> str:
    out: list[str] = []
    for piece in pieces:
        out += decoder.feed(piece)
    return "".join(out + decoder.flush())


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", "añ€\n𝄞b"),
        ("utf-16", "añ€\n𝄞b"),
        ("utf-16-le", "añ€\n𝄞b"),
        ("shift_jis", "aあ\n本"),
        ("latin-1", "aé\nb"),
    ],
)
def test_decoding_across_every_chunk_boundary(encoding, text):
    data = text.encode(encoding)
    for pieces in splits(data):
        assert decode(TextDecoder(encoding), pieces) == text, pieces


def test_a_character_split_across_pieces_comes_out_whole():
    d = TextDecoder("utf-8")
    euro = "€".encode()
    assert d.feed(b"a" + euro[:1]) == ["a"]
    assert d.feed(euro[1:2]) == []
    assert d.feed(euro[2:]) == ["€"]


def test_undecodable_bytes_are_replaced_like_response_text():
    data = b"ok \xff\xfe bad \xe2\x82"  # two bad bytes, then a truncated euro
    assert decode(TextDecoder("utf-8"), [data]) == data.decode("utf-8", errors="replace")
    assert decode(TextDecoder("utf-8"), [data[i : i + 1] for i in range(len(data))]) == (
        "ok \ufffd\ufffd bad \ufffd"
    )


def test_decoded_text_then_lines_splits_after_decoding():
    # In UTF-16 the line end is two bytes, one of them zero: only decoded
    # text can be cut into lines.
    data = "a\r\nb\r".encode("utf-16")  # a BOM, then five characters
    for pieces in splits(data):
        decoder, splitter = TextDecoder("utf-16"), text_line_splitter(10)
        lines = []
        for piece in pieces:
            for text in decoder.feed(piece):
                lines += splitter.feed(text)
        for text in decoder.flush():
            lines += splitter.feed(text)
        assert lines + splitter.flush() == ["a", "b"]


def test_decoder_names_the_codec():
    assert TextDecoder("LATIN-1").encoding == "iso8859-1"


@pytest.mark.parametrize("encoding", ["no-such-codec", "base64", "rot13"])
def test_an_unknown_or_non_text_encoding_is_a_value_error(encoding):
    with pytest.raises(ValueError, match=encoding):
        TextDecoder(encoding)


# -- sized chunks -----------------------------------------------------------


def rechunk(size: int, pieces: Sequence[bytes]) -> list[bytes]:
    r = Rechunker(size)
    out: list[bytes] = []
    for piece in pieces:
        out += r.feed(piece)
    return out + r.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 8, 9])
def test_chunks_are_exactly_the_size_except_the_last_in_every_split(size):
    data = b"abcdefgh"
    expected = [data[i : i + size] for i in range(0, len(data), size)]
    for pieces in splits(data):
        assert rechunk(size, pieces) == expected, pieces


def test_chunks_of_an_empty_body_are_none():
    assert rechunk(4, []) == []
    assert rechunk(4, [b"", b""]) == []


def test_chunks_from_big_pieces():
    data = bytes(range(256)) * 100
    got = rechunk(1000, [data[:5000], data[5000:5001], data[5001:]])
    assert [len(c) for c in got] == [1000] * 25 + [600]
    assert b"".join(got) == data


@pytest.mark.parametrize("bad", [True, 1.0, "4", None])
def test_sizes_must_be_ints(bad):
    with pytest.raises(TypeError, match="size must be an int"):
        check_size(bad, "size")


@pytest.mark.parametrize("bad", [0, -1])
def test_sizes_must_be_positive(bad):
    with pytest.raises(ValueError, match="max_length must be at least 1"):
        check_size(bad, "max_length")
