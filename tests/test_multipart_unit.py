"""Unit tests for asks.multipart: encode, then parse back with the standard library.

The async parts run in ``curio.run`` from plain test functions.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import io
import os
import threading
from pathlib import Path
from typing import Any, NamedTuple

import curio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asks import multipart as mp
from asks.errors import AsksException
from asks.multipart import MultipartBody, MultipartData, build_files, build_multipart

# -- helpers ------------------------------------------------------------------


async def _drain(body: MultipartBody) -> list[bytes]:
    return [piece async for piece in body.chunks()]


def pieces_of(body: MultipartBody) -> list[bytes]:
    """Every piece ``chunks()`` yields, produced inside a curio kernel."""
    pieces: list[bytes] = curio.run(_drain, body)
    assert all(isinstance(piece, bytes) and piece for piece in pieces)
    return pieces


def encode(body: MultipartBody) -> bytes:
    """The whole body; checks ``length`` against the bytes really produced."""
    data = b"".join(pieces_of(body))
    if body.length is not None:
        assert body.length == len(data)
    return data


class Part(NamedTuple):
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def _unescape(text: str) -> str:
    # The parser hands non-ASCII header bytes back as surrogate escapes (or
    # already decoded, depending on the Python version): make them UTF-8.
    try:
        return text.encode("ascii", "surrogateescape").decode("utf-8")
    except UnicodeEncodeError:
        return text


def parse(body: MultipartBody, data: bytes) -> list[Part]:
    """Parse *data* with the stdlib email parser, as a server would."""
    head = b"Content-Type: " + body.content_type.encode("ascii") + b"\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
    assert msg.is_multipart()
    assert msg.get_content_type() == "multipart/form-data"
    assert msg.get_boundary() == body.boundary
    parts = []
    for part in msg.iter_parts():
        disposition = part["Content-Disposition"]
        assert disposition.content_disposition == "form-data"
        params = dict(disposition.params)
        filename = params.get("filename")
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        ctype = part.get("Content-Type")
        parts.append(
            Part(
                _unescape(params["name"]),
                None if filename is None else _unescape(filename),
                None if ctype is None else str(ctype),
                content,
            )
        )
    return parts


def round_trip(body: MultipartBody) -> list[Part]:
    return parse(body, encode(body))


class AsyncFile:
    """A file object whose ``read`` is a coroutine function."""

    def __init__(self, data: bytes, name: str | None = None) -> None:
        self._buf = io.BytesIO(data)
        if name is not None:
            self.name = name

    async def read(self, n: int = -1) -> bytes:
        await curio.sleep(0)
        return self._buf.read(n)


class PlainReader:
    """A sync file object with nothing but ``read``: one-shot."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(n)


def times_open(path: Path) -> int:
    """How many descriptors of this process refer to *path*."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # a descriptor closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


# -- text and bytes -----------------------------------------------------------


def test_text_fields_round_trip() -> None:
    body = build_multipart({"a": "1", "b": "two words", "empty": "", "n": 5, "f": 1.5})
    assert body.content_type == f"multipart/form-data; boundary={body.boundary}"
    assert body.replayable
    assert body.length is not None
    assert round_trip(body) == [
        Part("a", None, None, b"1"),
        Part("b", None, None, b"two words"),
        Part("empty", None, None, b""),
        Part("n", None, None, b"5"),
        Part("f", None, None, b"1.5"),
    ]


def test_wire_format_is_exact() -> None:
    body = build_multipart({"t": "x", "b": b"\x00\xff"}, boundary="BND")
    assert body.content_type == "multipart/form-data; boundary=BND"
    assert encode(body) == (
        b"--BND\r\n"
        b'Content-Disposition: form-data; name="t"\r\n'
        b"\r\n"
        b"x\r\n"
        b"--BND\r\n"
        b'Content-Disposition: form-data; name="b"; filename="blob"\r\n'
        b"Content-Type: application/octet-stream\r\n"
        b"\r\n"
        b"\x00\xff\r\n"
        b"--BND--\r\n"
    )


def test_bytes_are_file_parts_named_blob() -> None:
    for value in (b"\x00\x01\r\n\xff", bytearray(b"ba"), memoryview(b"mv")):
        (part,) = round_trip(build_multipart({"raw": value}))
        assert part == Part("raw", "blob", "application/octet-stream", bytes(value))


def test_empty_form() -> None:
    body = build_multipart({})
    assert encode(body) == f"--{body.boundary}--\r\n".encode()
    assert body.replayable


def test_pairs_may_repeat_a_name() -> None:
    body = build_multipart([("x", "1"), ("x", b"2"), ("y", "3")])
    assert [(p.name, p.content) for p in round_trip(body)] == [
        ("x", b"1"),
        ("x", b"2"),
        ("y", b"3"),
    ]


def test_large_bytes_value_is_not_copied_into_a_joined_piece() -> None:
    big = bytes(range(256)) * 1024  # 256 KiB
    body = build_multipart({"a": "small", "big": big, "z": "tail"})
    pieces = pieces_of(body)
    assert any(piece is big for piece in pieces)
    (_, big_part, _) = round_trip(body)
    assert big_part.content == big


def test_non_ascii_text_field_uses_the_encoding() -> None:
    (part,) = round_trip(build_multipart({"näme": "grüße €"}))
    assert part == Part("näme", None, None, "grüße €".encode())
    latin = build_multipart({"k": "grüße"}, encoding="latin-1")
    (part,) = round_trip(latin)
    assert part.content == "grüße".encode("latin-1")
    with pytest.raises(UnicodeEncodeError):
        build_multipart({"k": "€"}, encoding="latin-1")


def test_non_ascii_filename_is_raw_utf8() -> None:
    body = build_multipart({"f": MultipartData(b"data", basename="résumé 简历.pdf")})
    data = encode(body)
    assert 'filename="résumé 简历.pdf"'.encode() in data
    assert b"filename*" not in data
    (part,) = parse(body, data)
    assert part == Part("f", "résumé 简历.pdf", "application/pdf", b"data")


def test_quote_and_backslash_in_names() -> None:
    body = build_multipart({'a"b\\c': MultipartData(b"x", basename='q"uo\\te.txt')})
    data = encode(body)
    assert b'name="a%22b\\\\c"; filename="q%22uo\\\\te.txt"' in data
    (part,) = parse(body, data)
    assert part.name == "a%22b\\c"
    assert part.filename == "q%22uo\\te.txt"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "\r\n"])
def test_cr_lf_nul_rejected_at_build_time(bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_multipart({bad: "v"})
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_multipart({"ok": MultipartData(b"x", basename=bad)})
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_multipart({"ok": MultipartData(b"x", mime_type="text/plain" + bad)})
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        build_files({bad: "v"})


def test_bad_values_rejected() -> None:
    with pytest.raises(TypeError):
        build_multipart({"x": MultipartData("a str is not binary")})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_multipart({"x": MultipartData(42)})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_multipart({"x": MultipartData(b"", basename=3)})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_multipart("not a mapping")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary mode"):
        build_multipart({"x": io.StringIO("text")})


# -- tuples, lists and None, as requests and httpx take them ------------------


def test_a_tuple_is_a_file_part_as_in_requests_and_httpx(tmp_path: Path) -> None:
    path = tmp_path / "on-disk.bin"
    path.write_bytes(b"from disk")
    body = build_multipart(
        [
            ("a", ("notes.txt", b"hi")),  # the type guessed from the filename
            ("b", ("data.bin", "text é", "application/x-custom")),  # a str is content
            ("c", ("renamed.bin", path)),  # a path, sent under the given name
            ("d", ("mem.json", io.BytesIO(b"{}"))),
            ("e", ("unknown", b"?")),
        ]
    )
    assert round_trip(body) == [
        Part("a", "notes.txt", "text/plain", b"hi"),
        Part("b", "data.bin", "application/x-custom", "text é".encode()),
        Part("c", "renamed.bin", "application/octet-stream", b"from disk"),
        Part("d", "mem.json", "application/json", b"{}"),
        Part("e", "unknown", "application/octet-stream", b"?"),
    ]


def test_a_tuple_without_a_filename_is_an_ordinary_field() -> None:
    # requests' idiom for a plain field among files: (None, value).
    body = build_multipart({"plain": (None, "value"), "typed": (None, b"{}", "application/json")})
    assert round_trip(body) == [
        Part("plain", None, None, b"value"),
        Part("typed", None, "application/json", b"{}"),
    ]


def test_a_list_repeats_the_field_and_none_is_left_out() -> None:
    body = build_multipart(
        {"tag": ["a", "b", None], "skip": None, "f": [("1.txt", b"1"), ("2.txt", b"2")]}
    )
    assert round_trip(body) == [
        Part("tag", None, None, b"a"),
        Part("tag", None, None, b"b"),
        Part("f", "1.txt", "text/plain", b"1"),
        Part("f", "2.txt", "text/plain", b"2"),
    ]


def test_files_takes_a_list_of_paths(tmp_path: Path) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("1")
    two.write_text("2")
    body = build_files({"docs": [str(one), str(two)], "note": "not a path"})
    assert round_trip(body) == [
        Part("docs", "one.txt", "text/plain", b"1"),
        Part("docs", "two.txt", "text/plain", b"2"),
        Part("note", None, None, b"not a path"),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("only-a-name",), "not 1 items"),
        (("n", b"x", "text/plain", {"X-Header": "1"}, None), "not 5 items"),
        (("n", b"x", "text/plain", [("X-Header", "1")]), "mapping of header names"),
        (("n", b"x", None, {"X-Header": 1}), "must be str"),
        (("n", b"x", None, {b"X-Header": "1"}), "must be str"),
        ((b"bytes-name", b"x"), "filename must be a str"),
        (("n", 42), "cannot send int"),
    ],
)
def test_a_bad_tuple_is_a_type_error(value: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        build_multipart({"f": value})


def test_a_tuples_fourth_item_is_more_header_lines_of_the_part() -> None:
    # requests' (filename, content, content_type, headers): after the two
    # lines asks writes, in the order given, values without the spaces
    # around them; None is none; a field (None, value) takes them too.
    body = build_multipart(
        [
            ("a", ("a.txt", b"hi", "text/plain", {"X-Part": "v", "Content-ID": " <1@x> "})),
            ("b", ("b.bin", b"?", None, None)),
            ("c", (None, b"plain", None, {"X-Field": "caf\u00e9"})),
        ],
        boundary="B",
    )
    assert encode(body) == (
        b"--B\r\n"
        b'Content-Disposition: form-data; name="a"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"X-Part: v\r\n"
        b"Content-ID: <1@x>\r\n"
        b"\r\n"
        b"hi\r\n"
        b"--B\r\n"
        b'Content-Disposition: form-data; name="b"; filename="b.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n"
        b"\r\n"
        b"?\r\n"
        b"--B\r\n"
        b'Content-Disposition: form-data; name="c"\r\n'
        b"X-Field: caf\xe9\r\n"  # Latin-1, as a request header's value
        b"\r\n"
        b"plain\r\n"
        b"--B--\r\n"
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Part": "v\r\nContent-Type: text/html"}, "must not contain CR, LF or NUL"),
        ({"X-Part": "v\nX-More: 1"}, "must not contain CR, LF or NUL"),
        ({"X-Part": "v\x00"}, "must not contain CR, LF or NUL"),
        ({"X-Part": "v\x07"}, "control character"),
        ({"X-Part": "\u20ac"}, "not Latin-1"),
        ({"X-Part\r\nX-Evil": "1"}, "must not contain CR, LF or NUL"),
        ({"X Part": "1"}, "invalid part header name"),
        ({"X-Part:": "1"}, "invalid part header name"),
        ({"": "1"}, "invalid part header name"),
        ({"content-disposition": 'form-data; name="other"'}, "asks' own"),
        ({"Content-Type": "text/html"}, "asks' own"),
    ],
)
def test_a_bad_part_header_is_a_value_error(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_multipart({"f": ("a.txt", b"x", "text/plain", headers)})
    with pytest.raises(ValueError, match=message):
        build_files({"f": ("a.txt", b"x", "text/plain", headers)})


def test_a_given_boundary_in_a_part_header_is_refused() -> None:
    with pytest.raises(ValueError, match="occurs in the content"):
        build_multipart({"f": ("a.txt", b"x", None, {"X-Part": "--B"})}, boundary="B")


def test_a_part_header_value_is_not_repeated_in_the_error() -> None:
    # A part header may carry a credential, as a request header may.
    with pytest.raises(ValueError) as caught:
        build_multipart({"f": ("a.txt", b"x", None, {"X-Token": "s3cret\r\n"})})
    assert "s3cret" not in str(caught.value)
    assert "X-Token" in str(caught.value)


# -- boundary -----------------------------------------------------------------


def test_boundary_is_random_per_build() -> None:
    first = build_multipart({"a": "1"})
    second = build_multipart({"a": "1"})
    assert first.boundary != second.boundary
    assert len(first.boundary) >= 32
    assert first.content_type != second.content_type


def test_boundary_never_occurs_in_in_memory_content(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["cafe", "cafe", "beef"])
    monkeypatch.setattr("asks.multipart.secrets.token_hex", lambda n: next(tokens))
    body = build_multipart({"a": "x", "b": b"--cafe--"})
    assert body.boundary == "beef"
    assert [p.content for p in round_trip(body)] == [b"x", b"--cafe--"]
    # Names are checked too.
    tokens = iter(["name", "ok12"])
    assert build_multipart({"my name": "v"}).boundary == "ok12"


def test_explicit_boundary_checked() -> None:
    with pytest.raises(ValueError, match="occurs"):
        build_multipart({"a": "xx--BND--xx"}, boundary="BND")
    for bad in ("", "x" * 71, "ends with space ", 'quo"te', "new\nline"):
        with pytest.raises(ValueError, match="invalid multipart boundary"):
            build_multipart({"a": "1"}, boundary=bad)
    spaced = build_multipart({"a": "1"}, boundary="with space:ok")
    assert spaced.content_type == 'multipart/form-data; boundary="with space:ok"'
    assert round_trip(spaced) == [Part("a", None, None, b"1")]


# -- paths ----------------------------------------------------------------------


def test_path_is_read_in_64k_pieces(tmp_path: Path) -> None:
    content = os.urandom(200 * 1024)
    path = tmp_path / "photo.png"
    path.write_bytes(content)
    body = build_multipart({"title": "t", "photo": path})
    assert body.replayable
    assert body.length is not None
    pieces = pieces_of(body)
    file_pieces = [p for p in pieces if len(p) == 65536]
    assert len(file_pieces) == 3  # 3 x 64 KiB, then 8 KiB, then EOF
    assert b"".join(pieces).count(content[:65536]) == 1
    parts = parse(body, b"".join(pieces))
    assert parts == [
        Part("title", None, None, b"t"),
        Part("photo", "photo.png", "image/png", content),
    ]
    assert body.length == len(b"".join(pieces))


def test_path_is_read_when_sent_not_when_built(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"before")
    body = build_multipart({"f": path})
    path.write_bytes(b"after!")  # same size
    assert round_trip(body) == [Part("f", "notes.txt", "text/plain", b"after!")]


def test_path_content_types(tmp_path: Path) -> None:
    names = {
        "a.unknownext": "application/octet-stream",
        "noext": "application/octet-stream",
        "b.json": "application/json",
        "c.tar.gz": "application/gzip",
    }
    fields = {}
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
        fields[name] = tmp_path / name
    parts = round_trip(build_multipart(fields))
    assert [(p.filename, p.content_type, p.content) for p in parts] == [
        (name, ctype, name.encode()) for name, ctype in names.items()
    ]


def test_path_replays_identically(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(70000))
    body = build_multipart({"a": "x", "data": path, "b": b"y"})
    assert body.replayable
    assert encode(body) == encode(body)


def test_missing_path_and_directory_fail_at_build_time(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        build_multipart({"f": tmp_path / "missing"})
    with pytest.raises(IsADirectoryError):
        build_multipart({"f": tmp_path})


def test_file_that_changes_size_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"12345")
    body = build_multipart({"f": path})
    path.write_bytes(b"123")
    with pytest.raises(AsksException, match="shrank"):
        encode(body)
    path.write_bytes(b"1234567")
    with pytest.raises(AsksException, match="grew"):
        encode(body)


@pytest.mark.skipif(not os.path.isfile("/proc/version"), reason="needs Linux /proc")
def test_a_proc_file_that_reports_size_0_is_sent_whole_and_chunked(tmp_path: Path) -> None:
    # /proc files stat as regular files of size 0; only an empty file is empty.
    proc = Path("/proc/version")
    content = proc.read_bytes()
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with open(proc, "rb") as fobj:
        for value in (proc, fobj):
            body = build_multipart({"f": value})
            assert body.length is None
            (part,) = round_trip(body)
            assert part.content == content
    body = build_multipart({"f": empty})
    assert body.length is not None
    assert round_trip(body)[0].content == b""


@pytest.mark.skipif(
    not os.path.isfile("/sys/devices/system/cpu/online"), reason="needs Linux /sys"
)
def test_a_sysfs_file_is_sent_whole_and_chunked(tmp_path: Path) -> None:
    # sysfs says 4096 bytes (and no blocks) whatever it holds.
    sysfs = Path("/sys/devices/system/cpu/online")
    content = sysfs.read_bytes()
    sparse = tmp_path / "sparse.bin"
    with sparse.open("wb") as f:
        f.truncate(10000)
    with open(sysfs, "rb") as fobj:
        for value in (sysfs, fobj):
            body = build_multipart({"f": value})
            assert body.length is None
            assert round_trip(body)[0].content == content
    body = build_multipart({"f": sparse})
    assert body.length is not None
    assert round_trip(body)[0].content == bytes(10000)


def test_file_vanishing_before_send_is_an_asks_error(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"12345")
    body = build_multipart({"f": path})
    path.unlink()
    with pytest.raises(AsksException, match=r"f\.bin") as info:
        encode(body)
    assert isinstance(info.value.__cause__, FileNotFoundError)


@needs_proc
def test_stopping_early_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * 300_000)
    body = build_multipart({"f": path})

    async def main() -> None:
        stream = body.chunks()
        try:
            await stream.__anext__()  # the part head
            assert times_open(path) == 0  # opened on the first read, not before
            assert (await stream.__anext__()) == b"z" * 65536
            assert times_open(path) == 1
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert times_open(path) == 0

    curio.run(main)
    # Exhausting the iterator closes it too.
    encode(body)
    assert times_open(path) == 0


def test_threaded_reader_closes_after_a_cancelled_read() -> None:
    started = threading.Event()
    release = threading.Event()
    closed = threading.Event()

    class SlowFile:
        def read(self, n: int = -1) -> bytes:
            started.set()
            release.wait(5)
            return b"late"

        def close(self) -> None:
            closed.set()

    reader = mp._ThreadedReader(SlowFile, owns=True)

    async def main() -> None:
        task = await curio.spawn(reader.read)
        while not started.is_set():
            await curio.sleep(0.001)
        await task.cancel()
        reader.close()  # must not block, must not close under the read
        assert not closed.is_set()
        release.set()
        for _ in range(500):
            if closed.is_set():
                break
            await curio.sleep(0.01)
        assert closed.is_set()

    curio.run(main)


# -- file objects -----------------------------------------------------------------


def test_sync_real_file_object(tmp_path: Path) -> None:
    content = os.urandom(100_000)
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with open(path, "rb") as fobj:
        body = build_multipart({"f": fobj})
        assert body.length is not None
        assert body.replayable
        (part,) = round_trip(body)
        assert part == Part("f", "upload.csv", "text/csv", content)
        assert encode(body) == encode(body)  # rewound to where it started

        fobj.seek(10)
        body = build_multipart({"f": fobj})
        (part,) = round_trip(body)
        assert part.content == content[10:]
        assert not fobj.closed  # the caller's file stays open


def test_bytesio_is_replayable_and_of_known_length() -> None:
    buf = io.BytesIO(b"in memory")
    body = build_multipart({"f": buf})
    assert body.length is not None  # encode() checks it against the bytes sent
    assert body.replayable
    expected = [Part("f", "blob", "application/octet-stream", b"in memory")]
    assert round_trip(body) == expected
    assert round_trip(body) == expected


def test_non_seekable_sync_file_is_one_shot() -> None:
    body = build_multipart({"f": PlainReader(b"once")})
    assert body.length is None
    assert not body.replayable
    assert round_trip(body) == [Part("f", "blob", "application/octet-stream", b"once")]
    with pytest.raises(RuntimeError, match="already sent"):
        body.chunks()


def test_pipe_is_one_shot_and_read_in_a_thread() -> None:
    rfd, wfd = os.pipe()
    with open(rfd, "rb") as reader, open(wfd, "wb") as writer:
        writer.write(b"through a pipe")
        writer.close()
        body = build_multipart({"p": reader})
        assert body.length is None
        assert not body.replayable
        (part,) = round_trip(body)
        assert part.content == b"through a pipe"
        assert part.filename == "blob"  # the name of a pipe is an int


def test_async_file_object() -> None:
    content = os.urandom(150_000)
    body = build_multipart({"a": AsyncFile(content, name="/some/dir/report.pdf")})
    assert body.length is None
    assert not body.replayable
    (part,) = round_trip(body)
    assert part == Part("a", "report.pdf", "application/pdf", content)
    with pytest.raises(RuntimeError, match="already sent"):
        body.chunks()

    (part,) = round_trip(build_multipart({"a": AsyncFile(b"anon")}))
    assert part == Part("a", "blob", "application/octet-stream", b"anon")


def test_curio_async_file(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"curio file")

    async def main() -> list[Part]:
        async with curio.aopen(path, "rb") as fobj:
            body = build_multipart({"c": fobj})
            data = b"".join([piece async for piece in body.chunks()])
            return parse(body, data)

    assert curio.run(main) == [Part("c", "c.txt", "text/plain", b"curio file")]


def test_text_mode_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("text")
    with open(path) as fobj, pytest.raises(TypeError, match="binary mode"):
        build_multipart({"t": fobj})


def test_closed_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "c.bin"
    path.write_bytes(b"x")
    with open(path, "rb") as fobj:
        pass
    with pytest.raises(ValueError, match="closed"):
        build_multipart({"c": fobj})
    buf = io.BytesIO(b"x")
    buf.close()
    with pytest.raises(ValueError, match="closed"):
        build_multipart({"c": buf})


def test_file_object_returning_str_fails_when_read() -> None:
    class Weird:
        def read(self, n: int = -1) -> Any:
            return "text"

    body = build_multipart({"w": Weird()})
    with pytest.raises(TypeError, match="binary mode"):
        encode(body)


# -- MultipartData ------------------------------------------------------------------


def test_multipart_data_overrides(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"path data")
    body = build_multipart(
        {
            "j": MultipartData(b"{}", mime_type="application/json", basename="d.json"),
            "guess": MultipartData(b"<p>", basename="page.html"),
            "default": MultipartData(b"raw"),
            "p": MultipartData(path, mime_type="image/x-custom", basename="renamed.img"),
            "p2": MultipartData(path),
            "io": MultipartData(io.BytesIO(b"bio"), basename="b.txt"),
            "aio": MultipartData(AsyncFile(b"aio", name="n.bin"), mime_type="text/x-a"),
            "nofile": MultipartData(b'{"a":1}', mime_type="application/json", basename=""),
        }
    )
    assert round_trip(body) == [
        Part("j", "d.json", "application/json", b"{}"),
        Part("guess", "page.html", "text/html", b"<p>"),
        Part("default", "blob", "application/octet-stream", b"raw"),
        Part("p", "renamed.img", "image/x-custom", b"path data"),
        Part("p2", "x.bin", "application/octet-stream", b"path data"),
        Part("io", "b.txt", "text/plain", b"bio"),
        Part("aio", "n.bin", "text/x-a", b"aio"),
        Part("nofile", None, "application/json", b'{"a":1}'),
    ]


def test_multipart_data_is_a_named_tuple() -> None:
    data = MultipartData(b"x", "text/plain", "a.txt")
    assert data.binary_source == b"x"
    assert data.mime_type == "text/plain"
    assert data.basename == "a.txt"
    assert MultipartData(b"y") == (b"y", None, None)


# -- replayability ------------------------------------------------------------------


def test_replayable_flags(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"r")
    assert build_multipart({"a": "1", "b": b"2", "c": path}).replayable
    assert build_multipart({"a": MultipartData(path)}).replayable
    assert not build_multipart({"a": "1", "b": AsyncFile(b"x")}).replayable
    assert not build_multipart({"a": MultipartData(PlainReader(b"x"))}).replayable


def test_one_shot_body_may_be_started_again_before_it_was_read() -> None:
    body = build_multipart({"a": AsyncFile(b"x")})
    body.chunks()  # made but never iterated: nothing was consumed
    assert round_trip(body)[0].content == b"x"


# -- legacy files= --------------------------------------------------------------


def test_build_files_legacy(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(b"legacy file")
    body = build_files(
        {
            "file": str(path),
            "path": path,
            "field": "plain value",
            "missing": str(tmp_path / "nope.txt"),
            "num": 3,
        }
    )
    assert body.replayable
    assert round_trip(body) == [
        Part("file", "legacy.txt", "text/plain", b"legacy file"),
        Part("path", "legacy.txt", "text/plain", b"legacy file"),
        Part("field", None, None, b"plain value"),
        Part("missing", None, None, str(tmp_path / "nope.txt").encode()),
        Part("num", None, None, b"3"),
    ]


# -- property -------------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"),
    min_size=1,
    max_size=20,
)
_values = st.one_of(st.text(alphabet=st.characters(blacklist_categories=["Cs"])), st.binary())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_names, _values, min_size=1, max_size=8))
def test_property_fields_round_trip(fields: dict[str, str | bytes]) -> None:
    body = build_multipart(fields)
    assert body.length is not None
    assert body.replayable
    parts = round_trip(body)
    expected = [
        Part(
            name.replace('"', "%22"),
            "blob" if isinstance(value, bytes) else None,
            "application/octet-stream" if isinstance(value, bytes) else None,
            value if isinstance(value, bytes) else value.encode("utf-8"),
        )
        for name, value in fields.items()
    ]
    assert parts == expected
