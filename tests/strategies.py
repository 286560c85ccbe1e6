"""Hypothesis strategies for what a server may answer, shared by property tests.

``server_bytes`` is anything from random bytes to well-formed HTTP:
``almost_http`` puts a response together from plausible and odd parts (1xx
and no-body statuses, Content-Length and chunked framing, Connection: close,
cookies, redirects, compressed bodies), and ``mutated`` flips, inserts or
drops a few of its bytes. ``split`` cuts bytes into the pieces a server
writes one at a time.
"""

from __future__ import annotations

import gzip
import itertools

from hypothesis import strategies as st

STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 304 Not Modified",
    b"HTTP/1.1 302 Found",
    b"HTTP/1.1 401 Unauthorized",
    b"HTTP/1.1 503 Busy",
    b"HTTP/1.1 100 Continue",
    b"HTTP/1.1 101 Switching Protocols",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 200",
    b"HTTP/2.0 200 OK",
    b"ICY 200 OK",
]

USUAL_HEADERS = [
    (b"Content-Length", b"0"),
    (b"Content-Length", b"5"),
    (b"Content-Length", b"100"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Content-Encoding", b"gzip"),
    (b"Content-Encoding", b"deflate"),
    (b"Content-Encoding", b"br"),
    (b"Connection", b"close"),
    (b"Connection", b"keep-alive"),
    (b"Content-Type", b"text/plain; charset=utf-8"),
    (b"Content-Type", b"application/json; charset=nonsense"),
    (b"Set-Cookie", b"a=b; Path=/; Max-Age=10"),
    (b"Set-Cookie", b"=; Domain=..; Expires=yesterday"),
    (b"Location", b"/elsewhere"),
    (b"Location", b"http://127.0.0.1:1/"),
    (b"WWW-Authenticate", b'Digest realm="r", nonce="n"'),
]

header_names = st.sampled_from(
    [b"Content-Length", b"Transfer-Encoding", b"Content-Encoding", b"Set-Cookie", b"X-Any"]
)
headers = st.lists(
    st.one_of(
        st.sampled_from(USUAL_HEADERS),
        st.tuples(header_names, st.binary(max_size=24)),
    ),
    max_size=6,
)


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


bodies = st.one_of(
    st.binary(max_size=120),
    st.lists(st.binary(min_size=1, max_size=40), max_size=4).map(chunked),
    st.binary(max_size=200).map(gzip.compress),
)


@st.composite
def almost_http(draw) -> bytes:
    """An HTTP response put together from plausible and odd parts."""
    status = draw(st.sampled_from(STATUS_LINES))
    head = status + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in draw(headers))
    return head + b"\r\n" + draw(bodies)


@st.composite
def mutated(draw) -> bytes:
    """An almost-HTTP response with a few bytes replaced, inserted or removed."""
    data = bytearray(draw(almost_http()))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 48, 58, 127, 255]) | st.integers(0, 255))
        if op == "insert" or at == len(data):
            data[at:at] = bytes([byte])
        elif op == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


server_bytes = st.one_of(st.binary(max_size=300), almost_http(), mutated())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@st.composite
def valid_http(draw) -> bytes:
    """A well-formed response whose framing agrees with its body.

    The framing is one of: Content-Length (the body's true length, now and
    then listed twice), chunked, or until the server closes; the response
    may end keep-alive (``Connection: close``, HTTP/1.0) or be a 1xx
    followed by the real one. These are the answers where reading a body
    right or wrong shows: random bytes rarely frame a body at all.
    """
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([b"200 OK", b"200 OK", b"404 Not Found", b"204 No Content"]))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "length", "chunked", "close"]))
    lines = [b"HTTP/" + version + b" " + status]
    if framing == "length":
        length = b"%d" % len(body)
        lines.append(
            b"Content-Length: " + (length + b", " + length if draw(st.booleans()) else length)
        )
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        cut = draw(st.integers(0, len(body)))
        body = chunked([p for p in (body[:cut], body[cut:]) if p])
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from([b"Connection: close", b"Connection: keep-alive"])))
    others = [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=b"), (b"X-Any", b"1")]
    lines += [n + b": " + v for n, v in draw(st.lists(st.sampled_from(others), max_size=2))]
    newline = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    answer = newline.join(lines) + newline + newline + body
    if draw(st.booleans()):
        answer = b"HTTP/1.1 100 Continue\r\n\r\n" + answer
    return answer
