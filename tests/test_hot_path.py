"""The speed-ups of the request hot path change nothing a caller can see.

Each cache or shortcut (docs/performance.md) has a test here that would
fail if it served stale data: session headers checked and encoded once but
re-read after every change, a header block cached per host, method kind and
body framing, a call's headers merged once per distinct set, options reused
by calls that set none, request events sharing a validated header block,
URLs parsed by a regex when they are plain, response headers built lazily,
and the imports left for first use.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

import asks
from asks._headers import Headers, ResponseHeaders
from asks._transport.http11_send import request_event as _request_event
from asks._urls import parse_url
from tests.servers import canned

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def sent_headers(handler, index: int = -1) -> dict[bytes, bytes]:
    request, _body = handler.requests[index]
    return {name: value for name, value in request.headers}


# -- session headers: encoded once, re-read after every change ----------------


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.__setitem__("X-Tag", "two"),
        lambda h: h.update({"X-Tag": "two"}),
        lambda h: (h.pop("X-Tag"), h.add("X-Tag", "two")),
        lambda h: (h.clear(), h.add("x-tag", "two")),
    ],
    ids=["setitem", "update", "pop-add", "clear-add"],
)
async def test_a_change_to_session_headers_reaches_the_next_request(raw_server, change):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "one"}) as s:
        await s.get(server.url)
        change(s.headers)
        await s.get(server.url)
    assert sent_headers(handler, 0)[b"x-tag"] == b"one"
    assert sent_headers(handler, 1)[b"x-tag"] == b"two"


async def test_deleting_a_session_header_stops_sending_it(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "one"}) as s:
        await s.get(server.url)
        del s.headers["x-tag"]
        await s.get(server.url)
    assert b"x-tag" in sent_headers(handler, 0)
    assert b"x-tag" not in sent_headers(handler, 1)


async def test_a_bad_value_added_after_a_good_request_is_refused(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        await s.get(server.url)
        s.headers["X-Bad"] = "a\r\nInjected: yes"
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            await s.get(server.url)
    assert len(handler.requests) == 1


def test_encoded_is_kept_until_a_change_and_copied_with_the_headers():
    headers = Headers({"A": "1"})
    first = headers.encoded()
    assert headers.encoded() is first
    copy = headers.copy()
    assert copy.encoded() is first
    copy["B"] = "2"
    assert copy.encoded() == ((b"A", b"1"), (b"B", b"2"))
    assert headers.encoded() is first  # the original is untouched


# -- the header block cached per host and method kind -----------------------------


async def test_each_host_gets_its_own_host_header(raw_server):
    one, two = canned(OK), canned(OK)
    first, second = await raw_server(one), await raw_server(two)
    async with asks.Session(connections=2) as s:
        for _ in range(2):
            await s.get(first.url)
            await s.get(second.url)
    assert {sent_headers(one, i)[b"host"] for i in range(2)} == {
        f"127.0.0.1:{first.port}".encode()
    }
    assert {sent_headers(two, i)[b"host"] for i in range(2)} == {
        f"127.0.0.1:{second.port}".encode()
    }


async def test_bodiless_post_says_content_length_0_and_get_does_not(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        await s.get(server.url)
        await s.post(server.url)
        await s.get(server.url)
    assert b"content-length" not in sent_headers(handler, 0)
    assert sent_headers(handler, 1)[b"content-length"] == b"0"
    assert b"content-length" not in sent_headers(handler, 2)


async def test_per_call_headers_do_not_leak_into_the_next_bare_call(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "session"}) as s:
        await s.get(server.url)
        await s.get(server.url, headers={"X-Tag": "call", "X-Only": "call"})
        await s.get(server.url)
    assert sent_headers(handler, 1)[b"x-tag"] == b"call"
    assert sent_headers(handler, 2)[b"x-tag"] == b"session"
    assert b"x-only" not in sent_headers(handler, 2)
    assert s.headers == {"X-Tag": "session"}


async def test_a_cross_origin_redirect_leaves_the_session_headers_alone(raw_server):
    target = canned(OK)
    other = await raw_server(target)
    moved = (
        f"HTTP/1.1 302 Found\r\nLocation: {other.url}/there\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    origin = await raw_server(canned(moved))
    async with asks.Session(headers={"Authorization": "Bearer secret"}) as s:
        r = await s.get(origin.url)
        assert r.status_code == 200
        # Dropped for the other origin...
        assert b"authorization" not in sent_headers(target)
        # ...but still the session's for the next call.
        assert s.headers["authorization"] == "Bearer secret"


async def test_each_body_gets_its_own_length_and_type(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        for _ in range(2):
            await s.post(server.url, data=b"abc")
            await s.post(server.url, data=b"abcdef")
            await s.post(server.url, json={"a": 1})
            await s.post(server.url, data={"a": "1"})
            await s.put(server.url, data=b"")
    sent = [sent_headers(handler, i) for i in range(10)]
    lengths = [h[b"content-length"] for h in sent]
    assert lengths == [b"3", b"6", b"7", b"3", b"0"] * 2
    types = [h.get(b"content-type") for h in sent]
    form = b"application/x-www-form-urlencoded"
    assert types == [None, None, b"application/json", form, None] * 2
    assert [body for _, body in handler.requests[:5]] == [
        b"abc",
        b"abcdef",
        b'{"a":1}',
        b"a=1",
        b"",
    ]


async def test_a_body_block_changes_with_the_session_headers(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "one"}) as s:
        await s.post(server.url, data=b"x")
        s.headers["X-Tag"] = "two"
        await s.post(server.url, data=b"x")
    assert sent_headers(handler, 0)[b"x-tag"] == b"one"
    assert sent_headers(handler, 1)[b"x-tag"] == b"two"


# -- a call's headers merged once per distinct set ------------------------------


async def test_the_same_call_headers_see_a_change_to_the_session_headers(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    call = {"X-Call": "c"}
    async with asks.Session(headers={"X-Tag": "one"}) as s:
        await s.get(server.url, headers=call)
        s.headers["X-Tag"] = "two"
        await s.get(server.url, headers=call)
        del s.headers["X-Tag"]
        await s.get(server.url, headers=call)
    assert [sent_headers(handler, i).get(b"x-tag") for i in range(3)] == [b"one", b"two", None]
    assert {sent_headers(handler, i)[b"x-call"] for i in range(3)} == {b"c"}


async def test_call_headers_that_differ_in_any_way_are_merged_afresh(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "session"}) as s:
        await s.get(server.url, headers={"X-Tag": "a"})
        await s.get(server.url, headers={"X-Tag": "b"})
        await s.get(server.url, headers={"x-tag": "a", "X-More": "m"})
        # Equal as dict keys but not as headers: 1 == True, str(1) != str(True).
        await s.get(server.url, headers={"X-Num": 1})
        await s.get(server.url, headers={"X-Num": True})
        await s.get(server.url, headers=[("X-Tag", "pairs")])
    tags = [sent_headers(handler, i).get(b"x-tag") for i in range(6)]
    assert tags == [b"a", b"b", b"a", b"session", b"session", b"pairs"]
    assert sent_headers(handler, 2)[b"x-more"] == b"m"
    assert sent_headers(handler, 3)[b"x-num"] == b"1"
    assert sent_headers(handler, 4)[b"x-num"] == b"True"


async def test_a_call_headers_dict_changed_between_calls_is_read_again(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    call = {"X-Call": "one"}
    async with asks.Session() as s:
        await s.get(server.url, headers=call)
        call["X-Call"] = "two"
        await s.get(server.url, headers=call)
    assert [sent_headers(handler, i)[b"x-call"] for i in range(2)] == [b"one", b"two"]


async def test_bad_call_headers_are_refused_every_time(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        for _ in range(2):
            with pytest.raises(ValueError, match="CR, LF or NUL"):
                await s.get(server.url, headers={"X-Bad": "a\r\nInjected: yes"})
    assert handler.requests == []


# -- options reused by calls that set none -----------------------------------------


async def test_a_bad_session_header_is_refused_only_if_it_would_be_sent(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        s.headers["X-Tag"] = "bad\r\nInjected: 1"
        for _ in range(2):  # the merge of a call's headers is never cached stale
            r = await s.get(server.url, headers={"x-tag": "good"})
            assert r.status_code == 200
            assert sent_headers(handler)[b"x-tag"] == b"good"
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            await s.get(server.url, headers={"X-Other": "1"})
    assert len(handler.requests) == 2


async def test_a_call_with_a_body_uses_the_session_encoding_as_it_is_now(raw_server):
    handler = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xe9!")
    server = await raw_server(handler)
    async with asks.Session(encoding="utf-8") as s:
        first = await s.post(server.url, data=b"x")
        s.encoding = "latin-1"
        second = await s.post(server.url, data=b"x")
        third = await s.post(server.url, data=b"x", encoding="cp1252")
    assert first.text == "\ufffd!"
    assert second.text == "\xe9!"
    assert third.text == "\xe9!"


async def test_options_of_one_call_never_carry_over_to_the_next(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session() as s:
        plain = await s.post(server.url, data=b"x")
        streamed = await s.post(server.url, data=b"x", stream=True)
        async with streamed.body:
            assert b"".join([chunk async for chunk in streamed.body]) == b"ok"
        again = await s.post(server.url, data=b"x")
    assert type(plain) is asks.Response
    assert type(streamed) is asks.StreamResponse
    assert type(again) is asks.Response


async def test_streamed_calls_reuse_options_and_still_see_session_changes(raw_server):
    # stream=True alone (a crawl's every URL) has its own cached options,
    # apart from the plain calls' and never stale.
    handler = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xe9!")
    server = await raw_server(handler)

    async def text(response: asks.StreamResponse) -> str:
        async with response:
            return "".join([piece async for piece in response.body.text()])

    async with asks.Session(encoding="utf-8") as s:
        first = await text(await s.get(server.url, stream=True))
        plain = await s.get(server.url)
        options = s._streamed_options
        second = await text(await s.get(server.url, stream=True))
        assert s._streamed_options is options  # reused
        s.encoding = "latin-1"
        third = await text(await s.get(server.url, stream=True))
        redirected = await s.get(server.url, stream=True, follow_redirects=False)
        await redirected.close()
        assert s._streamed_options is not options
        fourth = await s.get(server.url)
    assert (first, second, third) == ("\ufffd!", "\ufffd!", "\xe9!")
    assert type(plain) is asks.Response and plain.text == "\ufffd!"
    assert type(redirected) is asks.StreamResponse
    assert type(fourth) is asks.Response and fourth.text == "\xe9!"


@pytest.mark.parametrize(
    "options",
    [{"stream": True}, {"timeout": 5}, {"follow_redirects": False, "encoding": "latin-1"}],
    ids=["stream", "timeout", "redirects-encoding"],
)
def test_a_call_with_options_only_sends_the_session_request_as_it_is(options):
    # Keywords that change nothing sent take the bare call's path: the
    # session's own headers object, no body, the URL as given.
    session = asks.Session(headers={"X-Tag": "one"})
    call = session._requests.prepare(session, "get", "http://a.test/p?q=1", "", dict(options))
    assert call.headers is session.headers
    assert call.body is None and call.cookies is None
    assert call.url.text == "http://a.test/p?q=1"


@pytest.mark.parametrize(
    ("kwargs", "content"),
    [
        ({"params": {"a": "1"}}, None),
        ({"headers": {"X-Other": "2"}}, None),
        ({"json": None, "data": None}, None),
        ({"data": b""}, b""),
        ({"json": {}}, b"{}"),
        ({"data": "\xe9", "encoding": "latin-1"}, b"\xe9"),
    ],
    ids=["params", "headers", "none-bodies", "empty-bytes", "empty-json", "encoded-str"],
)
def test_only_a_body_argument_makes_a_body(kwargs, content):
    session = asks.Session()
    call = session._requests.prepare(session, "POST", "http://a.test/", "", dict(kwargs))
    if content is None:
        assert call.body is None
    else:
        assert call.body is not None and call.body.content == content


async def test_option_only_calls_see_a_change_to_the_session_headers(raw_server):
    handler = canned(OK)
    server = await raw_server(handler)
    async with asks.Session(headers={"X-Tag": "one"}) as s:
        await s.get(server.url, timeout=5)
        s.headers["X-Tag"] = "two"
        await s.get(server.url, timeout=5)
    assert sent_headers(handler, 0)[b"x-tag"] == b"one"
    assert sent_headers(handler, 1)[b"x-tag"] == b"two"


def test_has_answers_for_built_and_lazy_headers_alike():
    built = Headers({"Content-Encoding": "gzip"})
    lazy = ResponseHeaders.from_raw([(b"Content-Encoding", b"gzip")])
    for headers in (built, lazy):
        assert headers.has(b"content-encoding")
        assert not headers.has(b"content-type")


@pytest.mark.parametrize("kind", [Headers, ResponseHeaders])
def test_content_undoes_a_coding_named_in_either_kind_of_headers(kind):
    import gzip

    response = asks.Response(
        method="GET",
        url="http://example.com/",
        status_code=200,
        reason_phrase="OK",
        http_version="1.1",
        headers=kind({"Content-Encoding": "gzip"}),
        encoding="utf-8",
        body=gzip.compress(b"plain"),
        max_decoded_size=None,
    )
    assert response.content == b"plain"


def test_a_response_built_by_position_is_the_one_built_by_keyword():
    # The session passes a Response's fields by position (keywords cost
    # twice as much per request): the order must be the documented one.
    headers = ResponseHeaders.from_raw([(b"Content-Type", b"text/plain; charset=latin-1")])
    fields = {
        "method": "GET",
        "url": "http://example.com/",
        "status_code": 404,
        "reason_phrase": "Not Found",
        "http_version": "1.0",
        "headers": headers,
        "encoding": "utf-8",
        "body": b"caf\xe9",
        "max_decoded_size": 10,
    }
    by_keyword = asks.Response(**fields)  # type: ignore[arg-type]
    by_position = asks.Response(*fields.values())  # type: ignore[arg-type]
    for response in (by_keyword, by_position):
        assert (response.method, response.url, response.status_code) == ("GET", fields["url"], 404)
        assert (response.reason_phrase, response.http_version) == ("Not Found", "1.0")
        assert response.headers is headers
        assert response.text == "café"  # the charset beats the fallback encoding
        assert response.body == response.content == b"caf\xe9"
        assert response._max_decoded_size == 10
        assert response.history == [] and response.cookies == []
    by_keyword.encoding = "ascii"
    assert by_position.encoding == "iso8859-1"  # nothing shared between instances
    assert by_keyword.history is not by_position.history


# -- a URL's derived values, computed once per URL ---------------------------------


def test_a_url_derives_its_origin_host_text_and_target_once():
    url = parse_url("http://Example.com:8080/a?b=1")
    assert parse_url("http://Example.com:8080/a?b=1") is url  # cached per string
    assert url.origin == ("http", "example.com", 8080)
    assert url.host_header == "example.com:8080"
    assert str(url) == url.text == "http://example.com:8080/a?b=1"
    assert url.target_bytes == b"/a?b=1"
    assert url.text is url.text  # kept, not rebuilt


def test_a_changed_url_never_keeps_the_values_of_the_one_it_came_from():
    url = parse_url("http://example.com/a")
    # Fill every cache of the original first.
    assert (str(url), url.host_header, url.target_bytes) == (
        "http://example.com/a",
        "example.com",
        b"/a",
    )
    assert url.origin == ("http", "example.com", 80)
    more = url.with_params({"q": "1"})
    assert (str(more), more.target_bytes) == ("http://example.com/a?q=1", b"/a?q=1")
    moved = url._replace(host="other.org", port=8443, scheme="https")
    assert moved.host_header == "other.org:8443"
    assert moved.origin == ("https", "other.org", 8443)
    assert str(moved) == "https://other.org:8443/a"
    assert str(url) == "http://example.com/a"


# -- request events: one validated header block for many targets ---------------


BLOCK = ((b"Host", b"example.com"), (b"User-Agent", b"python-asks"), (b"X-Tag", b"One"))


def wire(event: h11.Request) -> bytes:
    data = h11.Connection(h11.CLIENT).send(event)
    assert data is not None
    return data


@pytest.mark.parametrize("target", [b"/a", b"/b?page=2", b"/"])
def test_requests_sharing_a_header_block_go_out_as_h11_would_write_them(target):
    # The second and later events reuse the first one's checked headers; on
    # the wire nothing may tell them from an event built from scratch (the
    # names keep their case, the order is kept).
    _request_event(b"GET", b"/first", BLOCK)
    shared = _request_event(b"POST", target, BLOCK).event
    fresh = h11.Request(method=b"POST", target=target, headers=list(BLOCK))
    assert wire(shared) == wire(fresh)
    assert b"X-Tag: One\r\n" in wire(shared)


def test_a_shared_header_block_still_gets_the_method_and_target_checked():
    _request_event(b"GET", b"/ok", BLOCK)
    with pytest.raises(h11.LocalProtocolError):
        _request_event(b"GET", b"/bad target", BLOCK)
    with pytest.raises(h11.LocalProtocolError):
        _request_event(b"G ET", b"/ok", BLOCK)


def test_a_header_block_h11_refuses_is_refused_every_time():
    no_host = ((b"User-Agent", b"python-asks"),)
    for target in (b"/a", b"/b"):
        with pytest.raises(h11.LocalProtocolError):
            _request_event(b"GET", target, no_host)


# -- response headers built lazily ---------------------------------------------


RAW = [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_lazy_response_headers_answer_membership_without_building():
    headers = ResponseHeaders.from_raw(RAW)
    assert "content-type" in headers and "CONTENT-TYPE" in headers
    assert "location" not in headers
    assert headers.get("location", "none") == "none"
    assert headers.has(b"set-cookie") and not headers.has(b"content-encoding")
    assert headers._raw is not None  # nothing was built


def test_a_name_can_only_match_a_whole_name():
    headers = ResponseHeaders.from_raw(RAW)
    assert "type" not in headers
    assert "content-type\0set-cookie" not in headers
    assert "ünïcode" not in headers


def test_lazy_response_headers_read_like_built_ones():
    lazy = ResponseHeaders.from_raw(RAW)
    assert lazy["Set-Cookie"] == ["a=1", "b=2"]
    assert lazy.get("content-type") == "text/plain"
    assert list(lazy) == ["Content-Type", "Set-Cookie"]
    assert lazy == {"content-type": "text/plain", "set-cookie": "a=1, b=2"}


def test_one_value_is_read_from_lazy_headers_without_building_them():
    # A crawl reads one header of each response (Content-Type): searching
    # the few raw ones costs less than decoding them all into the mapping.
    lazy = ResponseHeaders.from_raw([*RAW, (b"Via", b"a"), (b"VIA", b"b")])
    assert lazy.get("CONTENT-TYPE") == "text/plain"
    assert lazy["content-type"] == "text/plain"
    assert lazy.get("set-cookie") == ["a=1", "b=2"]  # never comma-joined
    assert lazy["via"] == "a, b"
    assert lazy.get("location") is None and lazy.get("location", "-") == "-"
    with pytest.raises(KeyError):
        lazy["location"]
    assert lazy._raw is not None  # still lazy
    # A name that is not an ASCII str gets the mapping's answer.
    assert lazy.get("ünïcode", 0) == 0
    assert lazy.get(b"content-type", 0) == 0 and lazy.get(None) is None


def _outcome(lookup: Any) -> tuple[str, Any]:
    try:
        return "value", lookup()
    except Exception as exc:
        return "raised", type(exc)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [b"A", b"a", b"B", b"Set-Cookie", b"set-cookie", b"C-D", b"\xc9t", b"\xe9t"]
            ),
            st.binary(max_size=4),
        ),
        max_size=8,
    ),
    st.sampled_from(
        [
            *("a", "A", "b", "set-cookie", "SET-COOKIE", "c-d", "e", "é", "\xc9t", "\xe9t"),
            *(b"a", None, 1),  # not str: what the mapping says of them
        ]
    ),
)
def test_lazy_lookups_equal_lookups_of_the_built_mapping(raw, name):
    built = ResponseHeaders.from_raw(raw)
    list(built)  # builds the mapping
    assert built._raw is None
    lazy = ResponseHeaders.from_raw(raw)
    assert _outcome(lambda: lazy.get(name, "absent")) == _outcome(
        lambda: built.get(name, "absent")
    )
    lazy = ResponseHeaders.from_raw(raw)
    assert _outcome(lambda: lazy[name]) == _outcome(lambda: built[name])
    lazy = ResponseHeaders.from_raw(raw)
    assert _outcome(lambda: name in lazy) == _outcome(lambda: name in built)


def _h11_response_headers(raw: list[tuple[bytes, bytes]]) -> Any:
    """The headers of a response h11 parsed from *raw*, as a connection gets them."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    head = b"".join(name + b": " + value + b"\r\n" for name, value in raw)
    conn.receive_data(b"HTTP/1.1 200 OK\r\n" + head + b"Content-Length: 0\r\n\r\n")
    event = conn.next_event()
    assert type(event) is h11.Response
    return event.headers


@pytest.mark.parametrize("h11_keeps", ["triples", "only public pairs"])
def test_headers_from_h11_read_as_headers_from_raw(h11_keeps: str) -> None:
    given = _h11_response_headers([*RAW, (b"X-Bytes", b"caf\xe9")])
    if h11_keeps == "only public pairs":
        # An h11 without the private list: only raw_items() to go by.
        given = SimpleNamespace(raw_items=given.raw_items)
    lazy = ResponseHeaders.from_h11(given)
    assert lazy.has(b"set-cookie") and lazy.has(b"x-bytes") and not lazy.has(b"location")
    assert lazy["Set-Cookie"] == ["a=1", "b=2"]
    assert lazy["x-bytes"] == "café"
    assert list(lazy) == ["Content-Type", "Set-Cookie", "X-Bytes", "Content-Length"]
    assert lazy == ResponseHeaders.from_raw(
        [*RAW, (b"X-Bytes", b"caf\xe9"), (b"Content-Length", b"0")]
    )


def test_headers_from_h11_take_its_list_as_it_is() -> None:
    # The fast path in use on the h11 asks installs with: if h11 renames
    # its list, this fails, and the public (slower) path is the one left.
    given = _h11_response_headers(RAW)
    before = given.raw_items()
    headers = ResponseHeaders.from_h11(given)
    assert headers._raw is given._full_items
    # Shared, so never changed: a caller editing the response's headers
    # must not reach into h11's event.
    del headers["set-cookie"]
    headers["X-New"] = "1"
    assert given.raw_items() == before


def test_a_changed_response_header_is_seen_by_membership():
    headers = ResponseHeaders.from_raw(RAW)
    del headers["set-cookie"]
    assert "set-cookie" not in headers
    assert not headers.has(b"set-cookie")
    headers["Location"] = "/x"
    assert "location" in headers and headers.has(b"location")


# -- imports left for first use --------------------------------------------------


def test_import_asks_leaves_the_costly_modules_for_first_use():
    # docs/performance.md: these cost more to import than asks' own modules
    # together, and a plain request needs none of them.
    code = (
        "import sys, asks; "
        "print(','.join(m for m in ('http.cookiejar', 'email.message', 'json', "
        "'brotli', 'zstandard', 'rich', 'ctypes') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


async def test_first_use_imports_what_it_needs(raw_server):
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b'Set-Cookie: k=v\r\nContent-Length: 8\r\n\r\n{"a": 1}'
    )
    server = await raw_server(canned(reply))
    async with asks.Session(persist_cookies=True) as s:
        r = await s.post(server.url, json={"x": 1})
        assert r.json() == {"a": 1}
        assert r.encoding == "utf-8"
        assert [c.name for c in r.cookies] == ["k"]
