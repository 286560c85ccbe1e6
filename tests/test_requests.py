"""What a request puts on the wire, and the arguments that shape it.

Exact bytes are checked against a raw server that records each request.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import curio
import pytest

import asks
from asks.errors import (
    AsksException,
    BadStatus,
    ConnectivityError,
    RequestTimeout,
    ServerClosedConnectionError,
)
from tests.servers import canned, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Recorder:
    """A raw-server handler that records (request, body) and answers OK."""

    def __init__(self, answer: bytes = OK) -> None:
        self.requests: list = []
        self.answer = answer

    async def __call__(self, sock):
        while (req := await read_request(sock)) is not None:
            self.requests.append(req)
            await sock.sendall(self.answer)

    @property
    def last(self):
        return self.requests[-1][0]

    @property
    def last_body(self):
        return self.requests[-1][1]

    def header(self, name: bytes) -> bytes | None:
        values = [v for n, v in self.last.headers if n == name]
        assert len(values) <= 1
        return values[0] if values else None


@pytest.fixture
async def recorder(raw_server):
    rec = Recorder()
    rec.server = await raw_server(rec)
    return rec


# -- URLs ---------------------------------------------------------------------


async def test_base_location_endpoint_and_path_build_the_url(recorder):
    s = asks.Session(recorder.server.url + "/", endpoint="api/v1/")
    r = await s.get(path="/items")
    assert recorder.last.target == b"/api/v1/items"
    assert r.url == recorder.server.url + "/api/v1/items"
    await s.get(path="other")
    assert recorder.last.target == b"/api/v1/other"
    await s.close()


async def test_base_location_may_be_set_after_construction(recorder):
    s = asks.Session()
    s.base_location = recorder.server.url
    s.endpoint = "/v2"
    await s.get(path="/x")
    assert recorder.last.target == b"/v2/x"
    await s.close()


async def test_a_full_url_overrides_base_location(recorder):
    s = asks.Session("http://127.0.0.1:1", endpoint="/nope")
    await s.get(recorder.server.url + "/full", path="/ignored")
    assert recorder.last.target == b"/full"
    await s.close()


async def test_no_url_and_no_base_location_is_a_value_error():
    s = asks.Session()
    with pytest.raises(ValueError, match="base_location"):
        await s.get()


async def test_params_are_appended_to_the_query(recorder):
    await asks.get(recorder.server.url + "/q?a=1", params={"b": "x y", "c": [1, 2], "d": None})
    assert recorder.last.target == b"/q?a=1&b=x+y&c=1&c=2"


async def test_a_percent_that_starts_no_escape_reaches_nginx_as_data(nginx):
    # nginx answers a target with a bare "%" (not "%" HEXDIG HEXDIG) with 400.
    r = await asks.get(nginx.url("http", "/echo/100%"), params="q=5%")

    assert (r.status_code, r.text.split()[-1]) == (200, "/echo/100%25?q=5%25")


@pytest.mark.parametrize("path", ["/a\tb", "/a\x01b", "/a?q=\x7f"])
async def test_a_url_with_a_control_character_is_refused_before_connecting(raw_server, path):
    server = await raw_server(canned(OK))
    with pytest.raises(ValueError, match="control characters"):
        await asks.get(server.url + path)
    assert server.accepted == 0


async def test_dot_segments_are_resolved_before_the_path_is_sent(recorder):
    r = await asks.get(recorder.server.url + "/static/../admin/./x")

    assert recorder.last.target == b"/admin/x"
    assert r.url == recorder.server.url + "/admin/x"


async def test_two_spellings_of_one_ipv6_address_are_one_host(recorder):
    # An IPv4-mapped address reaches the IPv4 server (a dual-stack socket).
    port = recorder.server.port
    async with asks.Session() as s:
        await s.get(f"http://[::ffff:127.0.0.1]:{port}/a")
        await s.get(f"http://[0:0:0:0:0:FFFF:7F00:1]:{port}/b")

    hosts = {dict(req.headers)[b"host"] for req, _body in recorder.requests}
    assert hosts == {f"[::ffff:127.0.0.1]:{port}".encode()}
    assert recorder.server.accepted == 1  # one pool key: the connection is reused


async def test_an_ipv4_address_spelled_otherwise_is_one_host_with_the_dotted_quad(recorder):
    port = recorder.server.port
    async with asks.Session() as s:
        for host in ("127.0.0.1", "127.1", "2130706433"):
            await s.get(f"http://{host}:{port}/")

    hosts = {dict(req.headers)[b"host"] for req, _body in recorder.requests}
    assert hosts == {f"127.0.0.1:{port}".encode()}
    assert recorder.server.accepted == 1  # one pool key: the connection is reused


async def test_no_proxy_address_ranges_cover_every_spelling_of_an_address(recorder, monkeypatch):
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")  # never reached
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")

    r = await asks.get(f"http://127.1:{recorder.server.port}/direct")

    assert r.status_code == 200
    assert recorder.last.target == b"/direct"


def link_local_address() -> tuple[str, str] | None:
    """A link-local IPv6 address of this machine and its interface, if it has one."""
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hex_address, _index, _length, scope, flags, name = line.split()
        # Link scope, and neither tentative (0x40) nor failed (0x08) in DAD:
        # an address that can be bound.
        if scope == "20" and not int(flags, 16) & 0x48:
            address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hex_address))
            return address, name
    return None


async def test_an_ipv6_zone_reaches_the_socket_but_not_the_host_header():
    found = link_local_address()
    if found is None:
        pytest.skip("no link-local IPv6 address")
    address, interface = found
    listener = curio.socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    seen = []

    async def serve_one():
        sock, _ = await listener.accept()
        async with sock:
            seen.append(await read_request(sock))
            await sock.sendall(OK)

    async with listener:
        listener.bind((address, 0, 0, socket.if_nametoindex(interface)))
        listener.listen(1)
        port = listener.getsockname()[1]
        server = await curio.spawn(serve_one)
        try:
            r = await asks.get(f"http://[{address}%25{interface}]:{port}/x")
        finally:
            await server.cancel()  # done serving by then, or never reached

    request = seen[0][0]
    assert dict(request.headers)[b"host"] == f"[{address}]:{port}".encode()
    assert r.url == f"http://[{address}%25{interface}]:{port}/x"


async def test_host_header_carries_a_non_default_port(recorder):
    await asks.get(recorder.server.url)
    assert recorder.header(b"host") == f"127.0.0.1:{recorder.server.port}".encode()


# -- headers ------------------------------------------------------------------


async def test_session_headers_are_sent_and_call_headers_override_them(recorder):
    s = asks.Session(headers={"X-Team": "blue", "User-Agent": "mine/1"})
    await s.get(recorder.server.url, headers={"x-team": "red"})
    assert recorder.header(b"x-team") == b"red"
    assert recorder.header(b"user-agent") == b"mine/1"
    # The override was for that call only.
    await s.get(recorder.server.url)
    assert recorder.header(b"x-team") == b"blue"
    await s.close()


async def test_session_headers_can_be_updated_in_place(recorder):
    s = asks.Session()
    s.headers.update({"Authorization": "Bearer t"})
    await s.get(recorder.server.url)
    assert recorder.header(b"authorization") == b"Bearer t"
    await s.close()


async def test_default_headers(recorder):
    await asks.get(recorder.server.url)
    assert recorder.header(b"user-agent").startswith(b"python-asks/")
    assert recorder.header(b"accept") == b"*/*"
    assert b"gzip" in recorder.header(b"accept-encoding")


async def test_a_header_of_none_is_not_sent_nor_defaulted(recorder):
    # As requests takes it: None leaves the header out, asks' own default
    # of that name included (but never the Host HTTP/1.1 needs).
    await asks.get(
        recorder.server.url,
        headers={"User-Agent": None, "Accept-Encoding": None, "X-Nothing": None, "Host": None},
    )
    names = [name for name, _ in recorder.last.headers]
    assert b"user-agent" not in names and b"accept-encoding" not in names
    assert b"x-nothing" not in names
    assert recorder.header(b"host") == f"127.0.0.1:{recorder.server.port}".encode()
    assert recorder.header(b"accept") == b"*/*"


async def test_a_call_header_of_none_removes_the_sessions_for_that_call(recorder):
    async with asks.Session(headers={"X-Team": "blue", "Accept": "text/plain"}) as s:
        await s.get(recorder.server.url, headers={"x-team": None, "Accept": None})
        assert recorder.header(b"x-team") is None
        assert recorder.header(b"accept") is None
        await s.get(recorder.server.url)
        assert recorder.header(b"x-team") == b"blue"
        assert recorder.header(b"accept") == b"text/plain"


async def test_a_session_header_of_none_until_deleted(recorder):
    async with asks.Session(headers={"User-Agent": None}) as s:
        await s.get(recorder.server.url)
        assert recorder.header(b"user-agent") is None
        s.headers["User-Agent"] = "mine/2"
        await s.get(recorder.server.url)
        assert recorder.header(b"user-agent") == b"mine/2"
        s.headers["User-Agent"] = None
        await s.get(recorder.server.url)
        assert recorder.header(b"user-agent") is None
        del s.headers["user-agent"]  # takes the None back: asks' default returns
        await s.get(recorder.server.url)
        assert recorder.header(b"user-agent").startswith(b"python-asks/")


async def test_a_content_type_of_none_sends_the_body_without_one(recorder):
    await asks.post(recorder.server.url, data={"a": "b"}, headers={"Content-Type": None})
    assert recorder.header(b"content-type") is None
    assert recorder.last_body == b"a=b"


@pytest.mark.parametrize(
    "headers",
    [{"X-Bad": "a\r\nInjected: 1"}, {"X-Bad": "a\nb"}, {"X-Bad\r\n": "v"}, {"X-Nul": "a\0"}],
)
async def test_header_injection_is_refused_before_connecting(raw_server, headers):
    server = await raw_server(canned(OK))
    with pytest.raises(ValueError):
        await asks.get(server.url, headers=headers)
    assert server.accepted == 0


@pytest.mark.parametrize("value", ["Bearer s3cret\x01", "Bearer s3cret\x7f", "Bearer\r\ns3cret"])
async def test_a_header_value_that_cannot_be_sent_is_refused_without_repeating_it(
    raw_server, value
):
    # RFC 9110 section 5.5: no control character but HTAB in a field value.
    # The error names the header, never its value: a credential, maybe, and
    # errors end up in logs.
    server = await raw_server(canned(OK))
    with pytest.raises(ValueError, match=r"Authorization|CR, LF or NUL") as caught:
        await asks.get(server.url, headers={"Authorization": value})
    assert "s3cret" not in str(caught.value)
    assert server.accepted == 0


async def test_spaces_around_a_header_value_are_not_part_of_it(recorder):
    # RFC 9110 section 5.5: a field value does not include the whitespace
    # around it; h11 refused such a value, naming it in the error.
    await asks.get(recorder.server.url, headers={"Authorization": " Bearer tok \t"})
    assert recorder.header(b"authorization") == b"Bearer tok"


async def test_bad_method_is_refused_before_connecting(raw_server):
    server = await raw_server(canned(OK))
    with pytest.raises(ValueError):
        await asks.request("GET /evil HTTP/1.1\r\n", server.url)
    assert server.accepted == 0


async def test_lower_case_method_is_sent_upper_case(recorder):
    await asks.request("get", recorder.server.url)
    assert recorder.last.method == b"GET"


# -- bodies -------------------------------------------------------------------


async def test_bytes_data_is_sent_with_its_length(recorder):
    await asks.post(recorder.server.url, data=b"\x00\x01binary")
    assert recorder.last_body == b"\x00\x01binary"
    assert recorder.header(b"content-length") == b"8"


async def test_str_data_is_encoded(recorder):
    await asks.post(recorder.server.url, data="héllo")
    assert recorder.last_body == "héllo".encode()


async def test_dict_data_is_form_encoded(recorder):
    await asks.post(recorder.server.url, data={"a": "1 2", "b": ["x", "y"]})
    assert recorder.last_body == b"a=1+2&b=x&b=y"
    assert recorder.header(b"content-type") == b"application/x-www-form-urlencoded"


@pytest.mark.parametrize("value", [{}, [], {"k": ["v", 1, None]}, "text"])
async def test_json_is_serialised(recorder, value):
    await asks.post(recorder.server.url, json=value)
    assert json.loads(recorder.last_body) == value
    assert recorder.header(b"content-type") == b"application/json"


async def test_large_body_is_sent_whole(recorder):
    body = bytes(range(256)) * 4096  # 1 MiB, beyond the single-write path
    await asks.put(recorder.server.url, data=body)
    assert recorder.last_body == body


async def test_explicit_content_type_wins(recorder):
    await asks.post(recorder.server.url, json=[1], headers={"content-type": "application/x+json"})
    assert recorder.header(b"content-type") == b"application/x+json"


async def test_empty_post_says_content_length_zero(recorder):
    await asks.post(recorder.server.url)
    assert recorder.header(b"content-length") == b"0"


async def test_data_and_json_together_are_a_type_error():
    with pytest.raises(TypeError):
        await asks.post("http://127.0.0.1:1", data=b"x", json={})


async def test_unknown_keyword_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="bogus"):
        await asks.get("http://127.0.0.1:1", bogus=1)
    s = asks.Session()
    with pytest.raises(TypeError, match="bogus"):
        await s.get("http://127.0.0.1:1", bogus=1)


async def test_auth_tuple_is_basic_auth(recorder):
    # As in requests and httpx: a (user, password) pair means Basic.
    await asks.get(recorder.server.url, auth=("user", "pass"))
    assert recorder.header(b"authorization") == b"Basic dXNlcjpwYXNz"


async def test_auth_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="auth"):
        await asks.get("http://127.0.0.1:1", auth="user:pass")


# -- responses ----------------------------------------------------------------


async def test_response_fields(raw_server):
    body = '{"k": "\xe9t\xe9"}'.encode("latin-1")
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=latin-1\r\n"
        b"X-Multi: a\r\nx-multi: b\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    server = await raw_server(canned(answer))
    r = await asks.get(server.url + "/p?q=1")
    assert (r.status_code, r.reason_phrase, r.http_version) == (201, "Created", "1.1")
    assert r.method == "GET"
    assert r.url == server.url + "/p?q=1"
    assert r.headers["content-type"] == "application/json; charset=latin-1"
    assert r.headers["X-MULTI"] == "a, b"
    assert r.headers.get_list("x-multi") == ["a", "b"]
    assert r.encoding == "iso8859-1"
    assert r.json() == {"k": "été"}
    assert r.text == '{"k": "été"}'
    assert r.history == []


async def test_encoding_falls_back_to_the_call_then_the_session(raw_server):
    server = await raw_server(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xe9\xe9"))
    s = asks.Session(encoding="latin-1")
    assert (await s.get(server.url)).text == "éé"
    assert (await s.get(server.url, encoding="cp1252")).encoding == "cp1252"
    r = await s.get(server.url)
    r.encoding = "utf-8"
    assert r.text == "\ufffd\ufffd"
    await s.close()


@pytest.mark.parametrize("code", [400, 404, 500, 503])
async def test_raise_for_status_on_errors(raw_server, code):
    server = await raw_server(canned(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % code))
    r = await asks.get(server.url)
    with pytest.raises(BadStatus) as info:
        r.raise_for_status()
    assert info.value.status_code == code
    assert info.value.response is r


@pytest.mark.parametrize("code", [600, 999])
async def test_raise_for_status_takes_a_status_past_599_for_a_server_error(raw_server, code):
    # RFC 9110 section 15: a status outside 100-599 is invalid, and a client
    # "SHOULD process the response as if it had a 5xx (Server Error) status
    # code" - as the command line's exit code already does.
    server = await raw_server(canned(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % code))
    r = await asks.get(server.url)
    with pytest.raises(BadStatus, match="Server Error") as info:
        r.raise_for_status()
    assert info.value.status_code == code


async def test_raise_for_status_passes_on_success(recorder):
    r = await asks.get(recorder.server.url)
    assert r.raise_for_status() is None


async def test_head_response_has_no_body_and_connection_is_reused(raw_server):
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", keep_alive=True)
    )
    async with asks.Session() as s:
        r = await s.head(server.url)
        assert r.body == b"" and r.headers["content-length"] == "1000"
        await s.head(server.url)
    assert server.accepted == 1


async def test_gzip_content_is_decoded(raw_server):
    import gzip

    payload = gzip.compress(b"hello " * 100)
    server = await raw_server(
        canned(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
            % len(payload)
            + payload
        )
    )
    r = await asks.get(server.url)
    assert r.body == payload
    assert r.content == b"hello " * 100


# -- failures -----------------------------------------------------------------


async def test_timeout_raises_request_timeout(raw_server):
    async def silent(sock):
        await read_request(sock)
        await curio.sleep(3600)

    server = await raw_server(silent)
    with pytest.raises(RequestTimeout):
        await asks.get(server.url, timeout=0.2)


async def test_connection_refused_is_a_connectivity_error():
    # Bind a port and close it: nothing listens there now.
    sock = curio.socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await sock.close()
    with pytest.raises(ConnectivityError):
        await asks.get(f"http://127.0.0.1:{port}/", retries=0)


async def test_unresolvable_name_is_a_connectivity_error():
    with pytest.raises(ConnectivityError, match="resolve"):
        await asks.get("http://nonexistent.invalid/", retries=0)


@pytest.mark.parametrize(
    ("method", "retries", "attempts"), [("GET", 0, 1), ("GET", 2, 3), ("POST", 2, 1)]
)
async def test_retries_are_counted_exactly(raw_server, method, retries, attempts):
    async def hang_up(sock):
        await read_request(sock)  # read it, answer nothing, close

    server = await raw_server(hang_up)
    with pytest.raises(ServerClosedConnectionError):
        await asks.request(method, server.url, retries=retries)
    assert server.accepted == attempts


async def test_garbage_answer_is_bad_http_response(raw_server):
    server = await raw_server(canned(b"ICY 200 OK\r\n\r\n", keep_alive=False))
    with pytest.raises(asks.errors.BadHttpResponse):
        await asks.get(server.url)


async def test_every_failure_is_an_asks_exception(raw_server):
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", keep_alive=False)
    )
    with pytest.raises(AsksException):
        await asks.get(server.url)


@pytest.mark.parametrize(
    ("encoding", "error"),
    [(None, TypeError), (b"utf-8", TypeError), ("no-such-codec", ValueError)],
)
def test_a_session_encoding_that_is_no_codec_is_refused_when_the_session_is_made(encoding, error):
    # Not when a response's text is first read, far from the mistake.
    with pytest.raises(error, match="encoding"):
        asks.Session(encoding=encoding)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"keepalive_expiry": -1}, ValueError, "keepalive_expiry"),
        ({"keepalive_expiry": float("nan")}, ValueError, "keepalive_expiry"),
        ({"keepalive_expiry": "5"}, TypeError, "keepalive_expiry"),
        ({"max_head_size": 0}, ValueError, "max_head_size"),
        ({"max_head_size": 1.5}, TypeError, "max_head_size"),
        ({"headers": "X-A: 1"}, TypeError, "not a string"),
        ({"headers": ["XY"]}, TypeError, "pairs"),
        ({"headers": [("X-A", "1", "2")]}, TypeError, "pairs"),
    ],
)
def test_session_limits_and_headers_of_the_wrong_shape_are_refused_when_made(kwargs, error, match):
    # ["XY"] used to send the header X with the value Y; "X-A: 1" failed
    # letter by letter; a negative expiry silently kept no connection.
    with pytest.raises(error, match=match):
        asks.Session(**kwargs)


async def test_a_timeout_that_is_not_a_number_is_a_type_error_naming_it(raw_server):
    server = await raw_server(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    async with asks.Session() as s:
        with pytest.raises(TypeError, match="timeout must be a number of seconds"):
            await s.get(server.url, timeout="5")
        assert (await s.get(server.url, timeout=5)).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"encoding": "no-such-codec"}, ValueError),
        ({"encoding": "no-such-codec", "data": "é"}, ValueError),
        ({"encoding": b"utf-8"}, TypeError),
    ],
)
async def test_a_call_encoding_that_is_no_codec_is_refused_before_connecting(
    raw_server, kwargs, error
):
    # As the session's: not a LookupError when the response's text is read.
    server = await raw_server(canned(OK))
    with pytest.raises(error, match="encoding"):
        await asks.post(server.url, **kwargs)
    assert server.accepted == 0
