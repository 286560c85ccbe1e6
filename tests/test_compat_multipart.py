"""asks 2.4's ``build_multipart_body``: byte for byte what asks 2.4.12 returned.

Every expected body below was produced by asks 2.4.12 itself (installed in a
throwaway virtualenv with anyio 2 on Python 3.11, fed the same inputs) and
is pasted here as a literal, so these tests need no old asks to run. The
first seven inputs are the ones asks 2.4's own test-suite used.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import curio
import pytest

from asks.multipart import MultipartData, build_multipart, build_multipart_body

BOUNDARY = "8banana133744910kmmr13a56!102!8423"
DELIM = b"--" + BOUNDARY.encode() + b"\r\n"
CLOSE = b"--" + BOUNDARY.encode() + b"--\r\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "test.txt").write_bytes(b"dummyfile\n")
    (tmp_path / "data.unknownext").write_bytes(b"x,y\n")
    (tmp_path / "archive.tar.gz").write_bytes(b"TARBYTES")
    (tmp_path / "doc.json").write_bytes(b'{"a": 1}')
    return tmp_path


def named(data: bytes, name: str) -> io.BytesIO:
    fobj = io.BytesIO(data)
    fobj.name = name  # type: ignore[misc]
    return fobj


def at(fobj: io.BytesIO, offset: int) -> io.BytesIO:
    fobj.seek(offset)
    return fobj


# name -> (values made from the files directory, encoding)
CASES: dict[str, Callable[[Path], tuple[Any, str]]] = {
    "multipartdata_bytes": lambda d: (
        OrderedDict(
            {"file": MultipartData(b"dummyfile\n", mime_type="text/plain", basename="test.txt")}
        ),
        "utf8",
    ),
    "file_and_field": lambda d: (
        OrderedDict(
            {
                "file": MultipartData(b"dummyfile\n", mime_type="text/plain", basename="test.txt"),
                "notfile": "abc",
            }
        ),
        "utf8",
    ),
    "file_like": lambda d: (
        OrderedDict({"file": named(b"dummyfile\n", "test.txt"), "notfile": "abc"}),
        "utf8",
    ),
    "path": lambda d: (OrderedDict({"file": d / "test.txt", "notfile": "abc"}), "utf8"),
    "several": lambda d: (
        OrderedDict(
            {
                "file": d / "test.txt",
                "file2": named(b"dummyfile2\n", "test.jpg"),
                "notfile": "abc",
                "integer": 3,
            }
        ),
        "utf8",
    ),
    "chosen_metadata": lambda d: (
        OrderedDict(
            {
                "file": MultipartData(
                    named(b"dummyfile but it is a jpeg\n", "test.jpg"),
                    mime_type="text/plain",
                    basename="test.txt",
                )
            }
        ),
        "utf8",
    ),
    "bytes_field": lambda d: (OrderedDict({"raw": b"\x00\x01binary"}), "utf8"),
    "nameless_file": lambda d: (OrderedDict({"f": io.BytesIO(b"no name")}), "utf8"),
    "unknown_extension_path": lambda d: (OrderedDict({"f": d / "data.unknownext"}), "utf8"),
    "compressed_path": lambda d: (OrderedDict({"f": d / "archive.tar.gz"}), "utf8"),
    "json_path": lambda d: (OrderedDict({"f": d / "doc.json"}), "utf8"),
    "multipartdata_defaults": lambda d: (OrderedDict({"d": MultipartData(b"abc")}), "utf8"),
    "multipartdata_path": lambda d: (
        OrderedDict(
            {"d": MultipartData(d / "test.txt", mime_type="application/json", basename="x.json")}
        ),
        "utf8",
    ),
    "multipartdata_empty_basename": lambda d: (
        OrderedDict({"d": MultipartData(b"abc", basename="")}),
        "utf8",
    ),
    "non_ascii_utf8": lambda d: (
        OrderedDict({"näme": "välue €", "fïle": named(b"x", "résumé.txt")}),
        "utf8",
    ),
    "non_ascii_latin1": lambda d: (OrderedDict({"näme": "välue"}), "latin-1"),
    "empty": lambda d: (OrderedDict(), "utf8"),
    "plain_dict_scalars": lambda d: (
        {"none": None, "true": True, "float": 1.5, "empty": ""},
        "utf8",
    ),
    "file_mid_way": lambda d: (
        OrderedDict({"f": at(named(b"skipped|kept", "part.txt"), 5)}),
        "utf8",
    ),
}

# What asks 2.4.12 returned for each case (see the module docstring).
EXPECTED: dict[str, bytes] = {
    "multipartdata_bytes": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "file_and_field": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="notfile"\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "file_like": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="notfile"\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "path": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="notfile"\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "several": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file2"; filename="test.jpg"\r\nContent-Type: image/jpeg\r\n\r\ndummyfile2\n\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="notfile"\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="integer"\r\n\r\n3\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "chosen_metadata": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile but it is a jpeg\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "bytes_field": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="raw"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01binary\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "nameless_file": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f"\r\nContent-Type: application/octet-stream\r\n\r\nno name\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "unknown_extension_path": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f"; filename="data.unknownext"\r\n\r\nx,y\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "compressed_path": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f"; filename="archive.tar.gz"\r\nContent-Type: application/x-tar\r\n\r\nTARBYTES\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "json_path": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f"; filename="doc.json"\r\nContent-Type: application/json\r\n\r\n{"a": 1}\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "multipartdata_defaults": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="d"\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "multipartdata_path": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="d"; filename="x.json"\r\nContent-Type: application/json\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "multipartdata_empty_basename": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="d"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "non_ascii_utf8": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="n\xc3\xa4me"\r\n\r\nv\xc3\xa4lue \xe2\x82\xac\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f\xc3\xafle"; filename="r\xc3\xa9sum\xc3\xa9.txt"\r\nContent-Type: text/plain\r\n\r\nx\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "non_ascii_latin1": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="n\xe4me"\r\n\r\nv\xe4lue\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "empty": b"--8banana133744910kmmr13a56!102!8423--\r\n",
    "plain_dict_scalars": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="none"\r\n\r\nNone\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="true"\r\n\r\nTrue\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="float"\r\n\r\n1.5\r\n--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="empty"\r\n\r\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
    "file_mid_way": b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="f"; filename="part.txt"\r\nContent-Type: text/plain\r\n\r\ned|kept\r\n--8banana133744910kmmr13a56!102!8423--\r\n',  # noqa: E501
}

# asks 2.4.12 with an anyio async file opened on test.txt (here: curio.aopen).
EXPECTED_ASYNC_FILE = b'--8banana133744910kmmr13a56!102!8423\r\nContent-Disposition: form-data; name="file"; filename="test.txt"\r\nContent-Type: text/plain\r\n\r\ndummyfile\n\r\n--8banana133744910kmmr13a56!102!8423--\r\n'  # noqa: E501


def test_every_case_has_its_expected_body():
    assert sorted(CASES) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(CASES))
async def test_build_multipart_body_is_byte_exact(case, files):
    values, encoding = CASES[case](files)

    body = await build_multipart_body(values=values, encoding=encoding, boundary_data=BOUNDARY)

    assert body == EXPECTED[case]


async def test_build_multipart_body_positional_arguments(files):
    values, encoding = CASES["several"](files)

    assert await build_multipart_body(values, encoding, BOUNDARY) == EXPECTED["several"]


async def test_build_multipart_body_reads_an_async_file(files):
    async with curio.aopen(files / "test.txt", "rb") as fobj:
        body = await build_multipart_body({"file": fobj}, "utf8", BOUNDARY)

    assert body == EXPECTED_ASYNC_FILE


@pytest.fixture
def real_file(files: Path) -> Iterator[io.BufferedReader]:
    with open(files / "test.txt", "rb") as fobj:
        yield fobj


@pytest.fixture
def text_file(files: Path) -> Iterator[io.TextIOWrapper]:
    with open(files / "test.txt") as fobj:
        yield fobj


async def test_build_multipart_body_reads_a_real_file_and_leaves_it_open(real_file):
    body = await build_multipart_body({"f": real_file}, "utf8", BOUNDARY)

    assert not real_file.closed
    assert body == (
        DELIM + b'Content-Disposition: form-data; name="f"; filename="test.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ndummyfile\n\r\n" + CLOSE
    )


async def test_build_multipart_body_streams_a_large_file_whole(tmp_path):
    # Larger than one read piece: the streaming encoder's pieces are joined.
    data = bytes(range(256)) * 1000
    (tmp_path / "big.bin").write_bytes(data)

    body = await build_multipart_body({"f": tmp_path / "big.bin"}, "utf8", BOUNDARY)

    assert body == (
        DELIM + b'Content-Disposition: form-data; name="f"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n" + CLOSE
    )


async def test_build_multipart_body_shares_the_streaming_encoder(files):
    # The same layout as build_multipart where their rules agree (a text
    # field and a file with a name and a known type).
    values = {"a": "1", "f": files / "test.txt"}
    streamed = build_multipart(values, boundary="BND")
    chunks = b"".join([piece async for piece in streamed.chunks()])

    assert await build_multipart_body(values, "utf-8", "BND") == chunks


async def test_build_multipart_body_escapes_quotes_in_names():
    # The one deliberate difference from asks 2.4, which sent the quote bare.
    body = await build_multipart_body({'a"b': "v"}, "utf8", "BND")

    assert b'name="a%22b"' in body


@pytest.mark.parametrize("boundary", ["", "a\r\nb", "nul\x00"])
async def test_build_multipart_body_refuses_a_bad_boundary(boundary):
    with pytest.raises(ValueError, match="boundary"):
        await build_multipart_body({"a": "1"}, "utf8", boundary)


async def test_build_multipart_body_refuses_a_boundary_inside_a_value():
    with pytest.raises(ValueError, match="occurs in the content"):
        await build_multipart_body({"a": "xx--BNDxx"}, "utf8", "BND")


async def test_build_multipart_body_refuses_a_boundary_that_is_not_text():
    with pytest.raises(TypeError, match="boundary_data must be a str"):
        await build_multipart_body({"a": "1"}, "utf8", b"BND")  # type: ignore[arg-type]


async def test_build_multipart_body_refuses_a_name_with_a_newline():
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await build_multipart_body({"a\nb": "1"}, "utf8", "BND")


async def test_build_multipart_body_refuses_a_text_mode_file(text_file):
    with pytest.raises(TypeError, match="binary mode"):
        await build_multipart_body({"f": text_file}, "utf8", "BND")
