"""Unit tests for asks._content.encode_body: data and json request bodies."""

from __future__ import annotations

import io
import json
import os
from urllib.parse import parse_qsl

import pytest

from asks._content import Body, encode_body

FORM = "application/x-www-form-urlencoded"


def drain(body: Body) -> bytes:
    """Run ``body.stream()`` to the end without an event loop.

    The streams under test never suspend (their sources do not await
    anything), so each ``__anext__`` finishes on its first ``send``.
    """
    assert body.stream is not None
    agen = body.stream()
    pieces = []
    while True:
        step = agen.__anext__()
        try:
            step.send(None)
        except StopIteration as done:
            pieces.append(done.value)
        except StopAsyncIteration:
            return b"".join(pieces)
        else:  # pragma: no cover - only if a stream really suspends
            step.close()
            raise AssertionError("the stream suspended")


# -- no body ------------------------------------------------------------------


def test_no_arguments_means_no_body():
    assert encode_body() is None


def test_data_none_means_no_body():
    assert encode_body(data=None) is None


# -- bytes and str ------------------------------------------------------------


def test_bytes_are_sent_as_they_are():
    assert encode_body(data=b"\x00raw\xff") == Body(b"\x00raw\xff", None, 5, None, True)


@pytest.mark.parametrize("data", [bytearray(b"abc"), memoryview(b"abc")])
def test_bytes_like_data_becomes_bytes(data):
    body = encode_body(data=data)

    assert type(body.content) is bytes
    assert body.content == b"abc"


def test_empty_bytes_are_a_body_of_length_zero():
    assert encode_body(data=b"") == Body(b"", None, 0, None, True)


def test_str_is_encoded_as_utf8_by_default():
    body = encode_body(data="café")

    assert (body.content, body.length) == ("café".encode(), 5)


def test_str_is_encoded_with_the_given_encoding():
    assert encode_body(data="café", encoding="latin-1").content == b"caf\xe9"


def test_str_gets_no_content_type():
    assert encode_body(data="text").content_type is None


def test_str_that_the_encoding_cannot_represent_raises():
    with pytest.raises(UnicodeEncodeError):
        encode_body(data="€", encoding="latin-1")


def test_in_memory_bodies_are_replayable_and_not_streamed():
    body = encode_body(data="x")

    assert body.replayable is True
    assert body.stream is None


# -- form encoding ------------------------------------------------------------


def test_dict_is_form_encoded():
    body = encode_body(data={"name": "Ada", "lang": "en"})

    assert body == Body(b"name=Ada&lang=en", None, 16, FORM, True)


def test_form_encoding_escapes_reserved_characters():
    assert encode_body(data={"q": "a b&c=d"}).content == b"q=a+b%26c%3Dd"


def test_form_list_values_repeat_the_key():
    assert encode_body(data={"tag": ["x", "y"]}).content == b"tag=x&tag=y"


def test_form_tuple_values_repeat_the_key():
    assert encode_body(data={"tag": ("x", "y")}).content == b"tag=x&tag=y"


def test_form_none_values_are_skipped():
    assert encode_body(data={"a": None, "b": "1", "c": [None, "2"]}).content == b"b=1&c=2"


def test_form_non_string_values_are_converted_with_str():
    assert encode_body(data={"n": 3, "f": 0.5}).content == b"n=3&f=0.5"


def test_form_bytes_values_are_sent_as_they_are():
    assert encode_body(data={"b": b"\xff"}).content == b"b=%FF"


def test_form_bytes_keys_are_sent_as_they_are_not_as_their_repr():
    body = encode_body(data={b"k\xc3\xa9y": b"v", 3: "x"})

    assert body.content == b"k%C3%A9y=v&3=x"


def test_form_non_ascii_is_utf8_by_default():
    assert encode_body(data={"é": "ü"}).content == b"%C3%A9=%C3%BC"


def test_form_non_ascii_uses_the_given_encoding():
    assert encode_body(data={"n": "é"}, encoding="latin-1").content == b"n=%E9"


def test_form_body_round_trips_through_parse_qsl():
    data = {"a": "1", "b": ["x y", "z&"], "c": "é=?"}

    pairs = parse_qsl(encode_body(data=data).content.decode("ascii"))

    assert pairs == [("a", "1"), ("b", "x y"), ("b", "z&"), ("c", "é=?")]


def test_form_length_matches_the_content():
    body = encode_body(data={"key": "väl ue" * 10})

    assert body.length == len(body.content)


# -- json ---------------------------------------------------------------------


def test_json_is_compact_and_typed():
    body = encode_body(json={"a": 1, "b": [True, None]})

    assert body == Body(b'{"a":1,"b":[true,null]}', None, 23, "application/json", True)


@pytest.mark.parametrize(("value", "sent"), [({}, b"{}"), ([], b"[]")])
def test_empty_json_containers_are_bodies(value, sent):
    body = encode_body(json=value)

    assert (body.content, body.content_type) == (sent, "application/json")


@pytest.mark.parametrize(("value", "sent"), [(0, b"0"), ("", b'""'), (False, b"false")])
def test_falsy_json_values_are_bodies(value, sent):
    assert encode_body(json=value).content == sent


def test_json_none_is_sent_as_null():
    assert encode_body(json=None).content == b"null"


def test_json_non_ascii_is_sent_as_utf8_not_escaped():
    body = encode_body(json={"name": "Zoë €"})

    assert body.content == '{"name":"Zoë €"}'.encode()
    assert body.length == len(body.content)


def test_json_ignores_the_text_encoding():
    assert encode_body(json="é", encoding="latin-1").content == '"é"'.encode()


def test_json_body_round_trips():
    value = {"nested": {"list": [1, 2.5, "ß"]}, "empty": {}}

    assert json.loads(encode_body(json=value).content) == value


def test_json_that_cannot_be_serialised_raises_type_error():
    with pytest.raises(TypeError):
        encode_body(json={"when": object()})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_json_nan_and_infinity_raise_value_error_not_invalid_json(number):
    # RFC 8259 section 6: no NaN or Infinity; json.dumps would write "NaN".
    with pytest.raises(ValueError, match="NaN"):
        encode_body(json={"x": [number]})


def test_json_with_a_lone_surrogate_is_sent_escaped():
    # No UTF-8 form exists for it; escaped it is well-formed JSON (RFC 8259 8.2).
    body = encode_body(json={"a": "\ud800", "b": "é"})

    assert body.content == b'{"a":"\\ud800","b":"\\u00e9"}'
    assert body.length == len(body.content)


# -- refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"a": "1"}, "json": {"a": 1}},
        {"data": b"", "json": None},
        {"data": "x", "json": {}},
    ],
)
def test_data_and_json_together_raise_type_error(kwargs):
    with pytest.raises(TypeError, match="data and json are mutually exclusive"):
        encode_body(**kwargs)


def test_data_and_multipart_together_raise_type_error():
    with pytest.raises(TypeError, match="data and multipart are mutually exclusive"):
        encode_body(data=b"x", multipart={"f": "v"})


@pytest.mark.parametrize("data", [42, 1.5, [("a", "1")], {"a", "b"}, object()])
def test_data_of_an_unsupported_type_raises_type_error(data):
    with pytest.raises(TypeError, match="data must be bytes, str, a mapping"):
        encode_body(data=data)


# -- file objects and async iterables -----------------------------------------


def test_real_file_has_its_remaining_length_and_is_replayable(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.read(4)

        body = encode_body(data=f)

        assert (body.length, body.replayable, body.content) == (6, True, None)


def test_real_file_replay_starts_where_the_first_send_did(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.read(4)
        body = encode_body(data=f)

        assert drain(body) == b"456789"
        assert drain(body) == b"456789"


def test_an_empty_file_is_a_body_of_length_zero_but_a_proc_file_goes_chunked(tmp_path):
    # Both say size 0: the empty file is empty (Content-Length: 0, which object
    # stores need), the /proc file is not (its size says nothing).
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with open(empty, "rb") as f:
        body = encode_body(data=f)
        assert (body.length, body.replayable) == (0, True)
        assert drain(body) == b""
    with open("/proc/self/status", "rb") as f:
        body = encode_body(data=f)
        assert body.length is None
        assert drain(body).startswith(b"Name:")


SYSFS = "/sys/devices/system/cpu/online"


@pytest.mark.skipif(not os.path.isfile(SYSFS), reason="needs Linux /sys")
def test_a_sysfs_file_goes_chunked_but_a_sparse_file_keeps_its_length(tmp_path):
    # sysfs says 4096 bytes whatever it holds (and no blocks): that is no length.
    with open(SYSFS, "rb") as f:
        assert encode_body(data=f).length is None
    sparse = tmp_path / "sparse.bin"
    with sparse.open("wb") as f:
        f.truncate(10000)  # no blocks either, but every byte is there
    with sparse.open("rb") as f:
        assert encode_body(data=f).length == 10000


def test_an_in_memory_file_is_measured_and_replayable():
    # No descriptor, but seekable: its end is its length (so it goes with
    # Content-Length, not chunked), from where it stands.
    buf = io.BytesIO(b"skip-abc")
    buf.read(5)
    body = encode_body(data=buf)

    assert (body.length, body.replayable) == (3, True)
    assert buf.tell() == 5  # measuring put it back
    assert drain(body) == b"abc"
    assert drain(body) == b"abc"  # a replay starts where the first send did


class _Unseekable(io.RawIOBase):
    """In memory, with a position but no way to seek."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._data.tell()

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_an_unseekable_file_without_fileno_has_unknown_length_and_is_not_replayable():
    body = encode_body(data=_Unseekable(b"abc"))

    assert (body.length, body.replayable) == (None, False)
    assert drain(body) == b"abc"


def test_text_file_raises_type_error_when_read():
    body = encode_body(data=io.StringIO("text"))

    with pytest.raises(TypeError, match="binary mode"):
        drain(body)


def test_async_iterable_is_streamed_with_unknown_length():
    async def pieces():
        yield b"ab"
        yield b""
        yield bytearray(b"cd")

    body = encode_body(data=pieces())

    assert (body.length, body.replayable, body.content_type) == (None, False, None)
    assert drain(body) == b"abcd"


def test_async_iterable_can_be_sent_only_once():
    async def pieces():
        yield b"ab"

    body = encode_body(data=pieces())
    drain(body)

    with pytest.raises(RuntimeError, match="already consumed"):
        drain(body)


def test_async_iterable_yielding_str_raises_type_error():
    async def pieces():
        yield "text"

    body = encode_body(data=pieces())

    with pytest.raises(TypeError, match="must yield bytes"):
        drain(body)
