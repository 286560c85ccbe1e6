"""The SOCKS handshake (asks/_transport/socks.py): exact bytes, faults, real proxies.

Three kinds of peer:

* a scripted SOCKS server in the test's kernel (``SocksScript`` on
  127.0.0.1 port 0): the bytes asks sends for each version and address
  type, every refusal and misbehaviour, its answers written whole and one
  byte per write;
* a scripted stream with no socket at all, answering one byte per read or
  everything at once: the reads are exact, whatever the split;
* real proxies in child processes - pproxy (SOCKS4, SOCKS5, SOCKS5 with
  username/password) and dante (SOCKS4, SOCKS5) - with HTTP/1.1 and TLS to a
  loopback origin spoken over the tunnel.

The stream is the caller's: every test closes it, and the harness fails a
test that leaves a descriptor or a task behind.
"""

from __future__ import annotations

import ipaddress
import socket

import curio
import pytest

from asks._proxies import Proxy
from asks._transport import backend, socks
from asks._transport.happy_eyeballs import connect_tcp
from asks._transport.interfaces import ConnectError, ConnectTimeout, ProxyFailed
from asks._transport.socks import SOCKS4_REPLIES, SOCKS5_REPLIES, open_socks_tunnel
from tests.conftest import open_fds
from tests.proxies import socks_servers
from tests.proxies.socks_servers import (
    ORIGIN_ANSWER,
    PPROXY_USER,
    SOCKS4_GRANTED,
    SOCKS5_GRANTED,
    SocksScript,
)
from tests.scripted import drive
from tests.servers import LOOPBACK, canned

# The real proxies, session-scoped (see tests/proxies/socks_servers.py).
pproxy = socks_servers.pproxy_fixture
pproxy_auth = socks_servers.pproxy_auth_fixture
dante = socks_servers.dante_fixture

# Long enough never to fire when asks behaves; a hang fails fast.
CALL_TIMEOUT = 5.0

FEEDS = pytest.mark.parametrize("byte_by_byte", [False, True], ids=["whole", "byte_by_byte"])

NO_AUTH = b"\x05\x01\x00"
NO_AUTH_OR_LOGIN = b"\x05\x02\x00\x02"


def socks5_connect(atype: int, address: bytes, port: int) -> bytes:
    """A SOCKS5 CONNECT request (RFC 1928 section 4)."""
    return b"\x05\x01\x00" + bytes([atype]) + address + port.to_bytes(2, "big")


def socks5_name(name: bytes, port: int) -> bytes:
    return socks5_connect(0x03, bytes([len(name)]) + name, port)


def socks4_connect(address: bytes, port: int, user_id: bytes = b"") -> bytes:
    return b"\x04\x01" + port.to_bytes(2, "big") + address + user_id + b"\x00"


def socks4a_connect(name: bytes, port: int, user_id: bytes = b"") -> bytes:
    # 0.0.0.x with x non-zero: "the name follows" (the SOCKS4a extension).
    return (
        b"\x04\x01"
        + port.to_bytes(2, "big")
        + b"\x00\x00\x00\xff"
        + user_id
        + b"\x00"
        + name
        + b"\x00"
    )


def login(user: bytes, password: bytes) -> bytes:
    """The RFC 1929 username/password request."""
    return b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password


def proxy_at(server, scheme: str, userinfo: str = "") -> Proxy:
    return Proxy(f"{scheme}://{userinfo}{server.host}:{server.port}")


async def connect(server) -> backend.Stream:
    """What the dialler does first: a TCP stream to the proxy."""
    return backend.Stream(await connect_tcp(server.host, server.port))


async def tunnel(server, proxy: Proxy, host: str, port: int) -> backend.Stream:
    """A stream through the proxy at *server* to host:port (closed on failure)."""
    stream = await connect(server)
    try:
        await open_socks_tunnel(stream, proxy, host, port, CALL_TIMEOUT)
    except BaseException:
        await stream.close()
        raise
    return stream


async def get(stream: backend.Stream, host: str, path: str = "/through") -> bytes:
    """One HTTP/1.1 request over the open tunnel; the answer, as long as ORIGIN_ANSWER.

    Read to its length, not to EOF: the scripted origin closes TLS without
    close_notify, which a TLS stream rightly reports as an error.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    await stream.send(request.encode())
    answer = b""
    while len(answer) < len(ORIGIN_ANSWER) and (chunk := await stream.receive()):
        answer += chunk
    return answer


async def fails(server, proxy: Proxy, host: str = "192.0.2.1", port: int = 80) -> str:
    """The handshake's ProxyFailed message, the stream closed after it."""
    with pytest.raises(ProxyFailed) as caught:
        await tunnel(server, proxy, host, port)
    assert caught.value.status_code is None  # SOCKS answers are not HTTP
    return str(caught.value)


async def nothing_sent(script: SocksScript) -> None:
    """The scripted server's connection ended without a byte from the client."""
    await script.finished.wait()
    assert script.received == []


def fake_resolver(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[tuple[str, int]]:
    """Make the local resolver answer *addresses* for any name; returns the calls."""
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[backend.AddrInfo]:
        calls.append((host, port))
        infos: list[backend.AddrInfo] = []
        for address in addresses:
            if ":" in address:
                sockaddr: tuple[object, ...] = (address, port, 0, 0)
                family = socket.AF_INET6
            else:
                sockaddr = (address, port)
                family = socket.AF_INET
            infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos

    monkeypatch.setattr(socks, "resolve", resolve)
    return calls


# -- the bytes sent, per version and address type -----------------------------------


@FEEDS
async def test_socks5_sends_an_ipv4_literal_as_an_address_and_then_carries_the_origin(
    raw_server, byte_by_byte
):
    request = socks5_connect(0x01, bytes([192, 0, 2, 7]), 8080)
    script = SocksScript(
        [(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)], then="http", byte_by_byte=byte_by_byte
    )
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5"), "192.0.2.7", 8080)
    try:
        answer = await get(stream, "192.0.2.7:8080")
    finally:
        await stream.close()
    assert script.received == [NO_AUTH, request]
    assert script.origin_request == b"GET /through"
    assert answer == ORIGIN_ANSWER


@FEEDS
async def test_socks5_sends_an_ipv6_literal_as_a_16_byte_address(raw_server, byte_by_byte):
    request = socks5_connect(0x04, ipaddress.ip_address("2001:db8::1").packed, 443)
    script = SocksScript(
        [(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)], byte_by_byte=byte_by_byte
    )
    server = await raw_server(script)
    # As the URL parser gives it (no brackets) and as written in a URL.
    for host in ("2001:db8::1", "[2001:db8::1]"):
        script.received.clear()
        stream = await tunnel(server, proxy_at(server, "socks5h"), host, 443)
        await stream.close()
        assert script.received == [NO_AUTH, request]


@FEEDS
async def test_socks5_resolves_a_name_locally_and_sends_the_first_address(
    raw_server, monkeypatch, byte_by_byte
):
    calls = fake_resolver(monkeypatch, "2001:db8::5", "192.0.2.5")
    request = socks5_connect(0x04, ipaddress.ip_address("2001:db8::5").packed, 80)
    script = SocksScript(
        [(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)], byte_by_byte=byte_by_byte
    )
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5"), "example.com", 80)
    await stream.close()
    assert calls == [("example.com", 80)]
    assert script.received == [NO_AUTH, request]


@FEEDS
async def test_socks5h_sends_the_name_for_the_proxy_to_resolve(
    raw_server, monkeypatch, byte_by_byte
):
    calls = fake_resolver(monkeypatch, "192.0.2.5")
    request = socks5_name(b"example.com", 443)
    script = SocksScript(
        [(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)], byte_by_byte=byte_by_byte
    )
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5h"), "example.com", 443)
    await stream.close()
    assert calls == []  # nothing resolved here
    assert script.received == [NO_AUTH, request]


async def test_socks5h_sends_a_non_ascii_name_idna_2008_encoded(raw_server):
    # UTS 46 non-transitional: "ß" stays (xn--fa-hia), it does not become "ss".
    request = socks5_name(b"xn--fa-hia.de", 80)
    script = SocksScript([(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5h"), "faß.de", 80)
    await stream.close()
    assert script.received == [NO_AUTH, request]


async def test_socks5h_sends_an_ip_literal_as_an_address(raw_server):
    request = socks5_connect(0x01, bytes([127, 0, 0, 1]), 80)
    script = SocksScript([(3, b"\x05\x00"), (len(request), SOCKS5_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5h"), "127.0.0.1", 80)
    await stream.close()
    assert script.received == [NO_AUTH, request]


@FEEDS
async def test_socks5_with_credentials_offers_both_methods_and_logs_in_per_rfc_1929(
    raw_server, byte_by_byte
):
    credentials = login("usér".encode(), b"p@ss:word")
    request = socks5_name(b"example.com", 80)
    script = SocksScript(
        [(4, b"\x05\x02"), (len(credentials), b"\x01\x00"), (len(request), SOCKS5_GRANTED)],
        byte_by_byte=byte_by_byte,
    )
    server = await raw_server(script)
    proxy = proxy_at(server, "socks5h", "us%C3%A9r:p%40ss%3Aword@")
    stream = await tunnel(server, proxy, "example.com", 80)
    await stream.close()
    assert script.received == [NO_AUTH_OR_LOGIN, credentials, request]


async def test_socks5_proxy_choosing_no_authentication_skips_the_login(raw_server):
    request = socks5_name(b"example.com", 80)
    script = SocksScript([(4, b"\x05\x00"), (len(request), SOCKS5_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5h", "user:pw@"), "example.com", 80)
    await stream.close()
    assert script.received == [NO_AUTH_OR_LOGIN, request]


async def test_socks5_credentials_from_proxy_auth_are_used(raw_server):
    credentials = login(b"alice", b"wonder")
    request = socks5_name(b"example.com", 80)
    script = SocksScript(
        [(4, b"\x05\x02"), (len(credentials), b"\x01\x00"), (len(request), SOCKS5_GRANTED)]
    )
    server = await raw_server(script)
    proxy = Proxy(f"socks5h://{server.host}:{server.port}", auth=("alice", "wonder"))
    stream = await tunnel(server, proxy, "example.com", 80)
    await stream.close()
    assert script.received == [NO_AUTH_OR_LOGIN, credentials, request]


@FEEDS
async def test_socks4_sends_the_user_id_and_the_ipv4_address(raw_server, byte_by_byte):
    request = socks4_connect(bytes([192, 0, 2, 9]), 8080, b"alice")
    script = SocksScript([(len(request), SOCKS4_GRANTED)], then="http", byte_by_byte=byte_by_byte)
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4", "alice@"), "192.0.2.9", 8080)
    try:
        answer = await get(stream, "192.0.2.9:8080")
    finally:
        await stream.close()
    assert script.received == [request]
    assert answer == ORIGIN_ANSWER


async def test_socks4_without_a_user_sends_an_empty_user_id(raw_server):
    request = socks4_connect(bytes([192, 0, 2, 9]), 80)
    script = SocksScript([(len(request), SOCKS4_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4"), "192.0.2.9", 80)
    await stream.close()
    assert script.received == [request]


async def test_socks4_resolves_locally_and_sends_the_first_ipv4_address(raw_server, monkeypatch):
    calls = fake_resolver(monkeypatch, "2001:db8::5", "192.0.2.5", "192.0.2.6")
    request = socks4_connect(bytes([192, 0, 2, 5]), 80)
    script = SocksScript([(len(request), SOCKS4_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4"), "example.com", 80)
    await stream.close()
    assert calls == [("example.com", 80)]
    assert script.received == [request]


@FEEDS
async def test_socks4a_sends_the_name_after_the_user_id(raw_server, monkeypatch, byte_by_byte):
    calls = fake_resolver(monkeypatch, "192.0.2.5")
    request = socks4a_connect(b"example.com", 443, b"bob")
    script = SocksScript([(len(request), SOCKS4_GRANTED)], byte_by_byte=byte_by_byte)
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4a", "bob@"), "example.com", 443)
    await stream.close()
    assert calls == []
    assert script.received == [request]


async def test_socks4a_sends_an_ipv4_literal_as_a_socks4_address(raw_server):
    request = socks4_connect(bytes([10, 1, 2, 3]), 80)
    script = SocksScript([(len(request), SOCKS4_GRANTED)])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4a"), "10.1.2.3", 80)
    await stream.close()
    assert script.received == [request]


# -- exact reads: the origin's bytes stay on the stream -----------------------------


@pytest.mark.parametrize(
    "bound",
    [
        b"\x01" + bytes(4) + b"\x00\x00",
        b"\x04" + bytes(16) + b"\x00\x00",
        b"\x03\x0bexample.com\x01\xbb",
    ],
    ids=["ipv4", "ipv6", "name"],
)
@FEEDS
async def test_socks5_reply_is_read_to_its_exact_length_by_bound_address_type(
    raw_server, bound, byte_by_byte
):
    # The reply and the origin's first bytes arrive in one write: not one of
    # the origin's bytes may be taken for part of the reply.
    request = socks5_connect(0x01, bytes([192, 0, 2, 7]), 80)
    reply = b"\x05\x00\x00" + bound + b"ORIGIN-FIRST"
    script = SocksScript([(3, b"\x05\x00"), (len(request), reply)], byte_by_byte=byte_by_byte)
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks5"), "192.0.2.7", 80)
    try:
        first = b""
        while len(first) < len(b"ORIGIN-FIRST"):
            first += await stream.receive()
    finally:
        await stream.close()
    assert first == b"ORIGIN-FIRST"


async def test_socks4_reply_is_read_to_its_exact_length(raw_server):
    request = socks4_connect(bytes([192, 0, 2, 7]), 80)
    script = SocksScript([(len(request), SOCKS4_GRANTED + b"ORIGIN-FIRST")])
    server = await raw_server(script)
    stream = await tunnel(server, proxy_at(server, "socks4"), "192.0.2.7", 80)
    try:
        first = b""
        while len(first) < len(b"ORIGIN-FIRST"):
            first += await stream.receive()
    finally:
        await stream.close()
    assert first == b"ORIGIN-FIRST"


class SplitStream:
    """A proxy's answer with no socket: *chunk* bytes per read at most."""

    def __init__(self, answer: bytes, chunk: int) -> None:
        self.unread = answer
        self.chunk = chunk
        self.sent = b""

    async def send(self, data: bytes) -> None:
        self.sent += data

    async def receive(self, max_bytes: int = 65536, wait_first: bool = False) -> bytes:
        piece = self.unread[: min(max_bytes, self.chunk)]
        self.unread = self.unread[len(piece) :]
        return piece


ANSWERS = {
    "socks5": b"\x05\x00" + b"\x05\x00\x00\x03\x04host\x00\x50",
    "socks5-login": b"\x05\x02" + b"\x01\x00" + b"\x05\x00\x00\x04" + bytes(16) + b"\x00\x50",
    "socks4": SOCKS4_GRANTED,
    "socks4a": SOCKS4_GRANTED,
}


@pytest.mark.parametrize("chunk", [1, 65536], ids=["one_byte_per_read", "all_at_once"])
@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_every_handshake_leaves_the_bytes_after_its_replies_unread(kind, chunk):
    scheme = kind.partition("-")[0].replace("socks5", "socks5h")
    userinfo = "u:p@" if kind == "socks5-login" else ""
    host = "192.0.2.1" if scheme == "socks4" else "host"  # nothing to resolve
    stream = SplitStream(ANSWERS[kind] + b"origin", chunk)
    drive(open_socks_tunnel(stream, Proxy(f"{scheme}://{userinfo}proxy"), host, 80, None))
    assert stream.unread == b"origin"


# -- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(SOCKS5_REPLIES), ids=lambda code: f"0x{code:02X}")
async def test_socks5_refusal_names_its_reply_code(raw_server, code):
    request = socks5_name(b"example.com", 443)
    script = SocksScript([(3, b"\x05\x00"), (len(request), bytes([5, code, 0, 1]) + bytes(6))])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5h"), "example.com", 443)
    assert message == (
        f"proxy socks5h://127.0.0.1:{server.port} refused the connection to example.com:443: "
        f"{SOCKS5_REPLIES[code]} (SOCKS5 reply 0x{code:02X})"
    )


def test_every_socks5_reply_code_of_rfc_1928_has_its_name():
    assert SOCKS5_REPLIES == {
        0x01: "general SOCKS server failure",
        0x02: "connection not allowed by ruleset",
        0x03: "network unreachable",
        0x04: "host unreachable",
        0x05: "connection refused",
        0x06: "TTL expired",
        0x07: "command not supported",
        0x08: "address type not supported",
    }


async def test_socks5_refusal_with_an_unassigned_code_says_so(raw_server):
    request = socks5_name(b"example.com", 443)
    script = SocksScript([(3, b"\x05\x00"), (len(request), b"\x05\x2a\x00\x01" + bytes(6))])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5h"), "example.com", 443)
    assert message.endswith("unassigned reply code (SOCKS5 reply 0x2A)")


async def test_socks5_refusal_sent_without_its_address_part_is_still_reported(raw_server):
    # Some proxies send only the head of a failure reply, then close.
    request = socks5_name(b"example.com", 443)
    script = SocksScript([(3, b"\x05\x00"), (len(request), b"\x05\x05\x00\x01")], then="close")
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5h"), "example.com", 443)
    assert "connection refused (SOCKS5 reply 0x05)" in message


@pytest.mark.parametrize("code", sorted(SOCKS4_REPLIES), ids=lambda code: f"0x{code:02X}")
async def test_socks4_refusal_names_its_reply_code(raw_server, code):
    request = socks4_connect(bytes([192, 0, 2, 1]), 80)
    script = SocksScript([(len(request), bytes([0, code]) + bytes(6))])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks4"), "192.0.2.1", 80)
    assert message == (
        f"proxy socks4://127.0.0.1:{server.port} refused the connection to 192.0.2.1:80: "
        f"{SOCKS4_REPLIES[code]} (SOCKS4 reply 0x{code:02X})"
    )


async def test_socks4a_name_refused_by_the_proxy(raw_server):
    request = socks4a_connect(b"no-such-host.example", 80)
    script = SocksScript([(len(request), b"\x00\x5b" + bytes(6))])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks4a"), "no-such-host.example", 80)
    assert script.received == [request]
    assert "refused the connection to no-such-host.example:80" in message
    assert "request rejected or failed (SOCKS4 reply 0x5B)" in message


# -- authentication ------------------------------------------------------------------


async def test_socks5_bad_password_is_refused_without_showing_it(raw_server):
    credentials = login(b"alice", b"wrong-secret")
    script = SocksScript([(4, b"\x05\x02"), (len(credentials), b"\x01\x01")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5h", "alice:wrong-secret@"))
    assert message == (
        f"proxy socks5h://127.0.0.1:{server.port} rejected the user name and password "
        "(RFC 1929 status 0x01)"
    )


async def test_socks5_proxy_wanting_authentication_when_none_was_given(raw_server):
    script = SocksScript([(3, b"\x05\xff")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5"))
    assert "requires authentication (SOCKS5 reply: no acceptable methods, 0xFF)" in message
    assert "give a user and password" in message


async def test_socks5_proxy_accepting_no_offered_method_with_credentials(raw_server):
    script = SocksScript([(4, b"\x05\xff")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5", "alice:secret@"))
    assert "accepts neither username/password nor no authentication" in message
    assert "secret" not in message


async def test_socks5_proxy_choosing_a_method_not_offered_is_not_followed(raw_server):
    script = SocksScript([(3, b"\x05\x01")])  # GSSAPI, never offered
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5"))
    assert "did not answer as a SOCKS proxy (method selection: chose method 0x01" in message


async def test_socks5_credentials_over_255_bytes_are_refused_before_sending_them(raw_server):
    script = SocksScript([(4, b"\x05\x02")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5", "u:" + "p" * 256 + "@"))
    assert "a password at most 255 (RFC 1929)" in message
    assert "ppp" not in message
    await nothing_sent(script)


async def test_socks5_empty_user_name_is_refused_before_sending_it(raw_server):
    # RFC 1929 section 2: ULEN is 1 to 255; a zero-length name would make
    # the proxy read the password's length byte as the start of the name.
    script = SocksScript([(4, b"\x05\x02")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5", ":s3cret@"))
    assert "a SOCKS5 user name is 1 to 255 bytes" in message
    assert "s3cret" not in message
    await nothing_sent(script)


# -- the connection ends, or is not SOCKS -------------------------------------------


@pytest.mark.parametrize(
    ("steps", "where"),
    [
        ([(3, b"")], "method selection: 0 of 2 bytes"),
        ([(3, b"\x05")], "method selection: 1 of 2 bytes"),
        ([(4, b"\x05\x02"), (9, b"")], "username/password status: 0 of 2 bytes"),
        ([(3, b"\x05\x00"), (18, b"\x05\x00\x00")], "reply: 3 of 4 bytes"),
        ([(3, b"\x05\x00"), (18, b"\x05\x00\x00\x03\x09exam")], "reply: 4 of 11 bytes"),
    ],
    ids=["before_any_answer", "mid_method", "after_login", "mid_reply_head", "mid_bound_name"],
)
async def test_socks5_eof_mid_handshake_says_where(raw_server, steps, where):
    userinfo = "user:pw@" if steps[0][0] == 4 else ""
    script = SocksScript(steps, then="close")
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5h", userinfo), "example.com", 80)
    assert message == (
        f"proxy socks5h://127.0.0.1:{server.port} closed the connection during the SOCKS "
        f"handshake ({where} received)"
    )


async def test_socks5_proxy_closing_on_bad_credentials_instead_of_answering(raw_server):
    credentials = login(b"alice", b"wrong")
    script = SocksScript([(4, b"\x05\x02"), (len(credentials), b"")], then="close")
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5", "alice:wrong@"))
    assert "closed the connection during the SOCKS handshake" in message
    assert "wrong" not in message


async def test_socks5_connection_reset_mid_handshake_is_a_proxy_failure(raw_server):
    script = SocksScript([(3, b"")], then="reset")
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks5"))
    assert message == (
        f"proxy socks5://127.0.0.1:{server.port}: the connection failed during the SOCKS "
        "handshake: Connection reset by peer"
    )


async def test_socks4_eof_mid_reply(raw_server):
    request = socks4_connect(bytes([192, 0, 2, 1]), 80)
    script = SocksScript([(len(request), b"\x00\x5a\x00")], then="close")
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks4"), "192.0.2.1", 80)
    assert message.endswith("(reply: 3 of 8 bytes received)")


@pytest.mark.parametrize(
    ("scheme", "steps", "detail"),
    [
        ("socks5", [(3, b"\x04\x00")], "method selection: version byte 0x04, expected 0x05"),
        ("socks5", [(3, b"HT")], "method selection: version byte 0x48, expected 0x05"),
        (
            "socks5",
            [(4, b"\x05\x02"), (5, b"\x05\x00")],
            "username/password status: version byte 0x05, expected 0x01",
        ),
        (
            "socks5",
            [(3, b"\x05\x00"), (10, b"\x04\x00\x00\x01")],
            "reply: version byte 0x04, expected 0x05",
        ),
        (
            "socks5",
            [(3, b"\x05\x00"), (10, b"\x05\x00\x00\x07")],
            "reply: unknown address type 0x07",
        ),
        (
            "socks5",
            [(3, b"\x05\x00"), (10, b"\x05\x00\x00\x03\x02\xff\xfe\x00\x00")],
            "reply: malformed bound address",
        ),
        ("socks4", [(9, b"HTTP/1.1 400")], "reply: version byte 0x48, expected 0x00"),
        ("socks4", [(9, b"\x04\x5a" + bytes(6))], "reply: version byte 0x04, expected 0x00"),
        ("socks4", [(9, b"\x00\x00" + bytes(6))], "reply: unknown reply code 0x00"),
    ],
    ids=[
        "socks5_method_version",
        "socks5_http_answer",
        "socks5_login_version",
        "socks5_reply_version",
        "socks5_address_type",
        "socks5_bound_name_not_utf8",
        "socks4_http_answer",
        "socks4_reply_version",
        "socks4_reply_code",
    ],
)
async def test_garbage_instead_of_a_socks_answer(raw_server, scheme, steps, detail):
    userinfo = "u:p@" if steps[0][0] == 4 else ""
    script = SocksScript(steps)
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, scheme, userinfo), "192.0.2.1", 80)
    assert message == (
        f"proxy {scheme}://127.0.0.1:{server.port} did not answer as a SOCKS proxy ({detail})"
    )


# -- what cannot be sent -------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["socks5h", "socks4a"])
async def test_a_name_over_255_bytes_is_refused_before_a_byte_is_sent(raw_server, scheme):
    script = SocksScript([(1, b"")])
    server = await raw_server(script)
    name = ".".join(["a" * 63] * 4) + ".example"  # 263 bytes
    message = await fails(server, proxy_at(server, scheme), name, 80)
    assert "the host name is 263 bytes long; SOCKS carries names of at most 255 bytes" in message
    await nothing_sent(script)


async def test_socks4_refuses_a_name_that_resolves_only_to_ipv6(raw_server, monkeypatch):
    fake_resolver(monkeypatch, "2001:db8::5", "2001:db8::6")
    script = SocksScript([(1, b"")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, "socks4"), "v6only.example", 80)
    assert message == (
        f"proxy socks4://127.0.0.1:{server.port}: v6only.example has no IPv4 address, and "
        "SOCKS4 carries IPv4 addresses only (use socks4a:// or socks5h:// to let the proxy "
        "resolve it)"
    )
    await nothing_sent(script)


@pytest.mark.parametrize("scheme", ["socks4", "socks4a"])
async def test_socks4_refuses_an_ipv6_literal(raw_server, scheme):
    script = SocksScript([(1, b"")])
    server = await raw_server(script)
    message = await fails(server, proxy_at(server, scheme), "2001:db8::1", 80)
    assert "SOCKS4 carries IPv4 addresses only, not 2001:db8::1" in message
    await nothing_sent(script)


async def test_a_name_that_does_not_resolve_locally_is_a_connect_error(raw_server, monkeypatch):
    async def resolve(host: str, port: int) -> list[backend.AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socks, "resolve", resolve)
    script = SocksScript([(1, b"")])
    server = await raw_server(script)
    stream = await connect(server)
    try:
        with pytest.raises(ConnectError) as caught:
            await open_socks_tunnel(stream, proxy_at(server, "socks5"), "nx.example", 80, 5.0)
    finally:
        await stream.close()
    assert str(caught.value) == (
        f"resolving nx.example for proxy socks5://127.0.0.1:{server.port} (a socks5:// proxy "
        "is sent an address, resolved here): cannot resolve host: "
        "[Errno -2] Name or service not known"
    )
    await nothing_sent(script)


@pytest.mark.parametrize("scheme", ["socks4", "socks5"])
async def test_a_resolver_answering_no_address_is_a_connect_error(raw_server, monkeypatch, scheme):
    fake_resolver(monkeypatch)  # no addresses at all
    script = SocksScript([(1, b"")])
    server = await raw_server(script)
    stream = await connect(server)
    try:
        with pytest.raises(ConnectError, match=r"resolving nx\.example for proxy .*: no address"):
            await open_socks_tunnel(stream, proxy_at(server, scheme), "nx.example", 80, 5.0)
    finally:
        await stream.close()
    await nothing_sent(script)


def test_an_http_proxy_is_not_taken_for_a_socks_one():
    stream = SplitStream(b"", 1)
    with pytest.raises(ProxyFailed, match="proxy http://proxy:80 is not a SOCKS proxy"):
        drive(open_socks_tunnel(stream, Proxy("http://proxy"), "host", 80, None))
    assert stream.sent == b""


# -- time, cancellation, what is left open ------------------------------------------


async def test_the_timeout_bounds_the_handshake(raw_server):
    script = SocksScript([(3, b"")])  # reads the greeting, never answers
    server = await raw_server(script)
    stream = await connect(server)
    try:
        with pytest.raises(ConnectTimeout) as caught:
            await open_socks_tunnel(stream, proxy_at(server, "socks5"), "192.0.2.1", 80, 0.02)
    finally:
        await stream.close()
    assert str(caught.value) == (
        f"proxy socks5://127.0.0.1:{server.port}: the SOCKS handshake did not finish within 0.02 s"
    )


async def test_a_deadline_of_the_caller_stays_the_callers(raw_server):
    script = SocksScript([(3, b"")])
    server = await raw_server(script)
    stream = await connect(server)
    try:
        with pytest.raises(curio.TaskTimeout):
            async with curio.timeout_after(0.02):
                await open_socks_tunnel(stream, proxy_at(server, "socks5"), "192.0.2.1", 80, 60)
    finally:
        await stream.close()


async def test_cancelled_mid_handshake_it_leaves_only_the_callers_stream(raw_server):
    script = SocksScript([(3, b"")])
    server = await raw_server(script)
    before = open_fds()
    stream = await connect(server)
    task = await curio.spawn(
        open_socks_tunnel, stream, proxy_at(server, "socks5"), "192.0.2.1", 80, None
    )
    await script.wait_received(1)  # the handshake is under way, waiting for the proxy
    await task.cancel()
    assert task.cancelled
    await stream.close()
    await server.wait_open_connections(0)
    assert open_fds() == before


@pytest.mark.parametrize(
    "steps",
    [[(3, b"\x05\xff")], [(3, b"\x05\x00"), (10, b"\x05\x01\x00\x01")], [(3, b"\x04\x00")]],
    ids=["refused_auth", "refused_connect", "garbage"],
)
async def test_a_failed_handshake_leaves_only_the_callers_stream(raw_server, steps):
    server = await raw_server(SocksScript(steps))
    before = open_fds()
    stream = await connect(server)
    with pytest.raises(ProxyFailed):
        await open_socks_tunnel(stream, proxy_at(server, "socks5"), "192.0.2.1", 80, 5.0)
    await stream.close()
    await server.wait_open_connections(0)
    assert open_fds() == before


# -- real proxies --------------------------------------------------------------------


@pytest.fixture
async def origin(raw_server):
    """A loopback HTTP origin answering ORIGIN_ANSWER, one request per connection."""
    handler = canned(ORIGIN_ANSWER, keep_alive=False)
    server = await raw_server(handler)
    server.handler = handler
    return server


async def through_real(proxy_server, scheme: str, host: str, origin, userinfo: str = ""):
    """GET /through over a tunnel through a real proxy; the answer."""
    proxy = Proxy(proxy_server.url(scheme).replace("://", f"://{userinfo}", 1))
    stream = backend.Stream(await connect_tcp(LOOPBACK, proxy_server.port))
    try:
        await open_socks_tunnel(stream, proxy, host, origin.port, CALL_TIMEOUT)
        return await get(stream, f"{host}:{origin.port}")
    finally:
        await stream.close()


@pytest.mark.parametrize(
    ("scheme", "host"),
    [
        ("socks4", "127.0.0.1"),
        ("socks4", "localhost"),
        ("socks5", "127.0.0.1"),
        ("socks5h", "localhost"),
    ],
)
async def test_pproxy_tunnel_carries_http_to_the_origin(pproxy, origin, scheme, host):
    assert await through_real(pproxy, scheme, host, origin) == ORIGIN_ANSWER
    assert origin.handler.requests[0][0].target == b"/through"


async def test_pproxy_socks5_username_password(pproxy_auth, origin):
    user, password = PPROXY_USER
    answer = await through_real(pproxy_auth, "socks5h", "localhost", origin, f"{user}:{password}@")
    assert answer == ORIGIN_ANSWER


async def test_pproxy_closes_on_a_bad_password_and_that_is_a_proxy_failure(pproxy_auth, origin):
    with pytest.raises(ProxyFailed) as caught:
        await through_real(pproxy_auth, "socks5h", "localhost", origin, "socks-user:wrong-pw@")
    message = str(caught.value)
    assert f"proxy socks5h://127.0.0.1:{pproxy_auth.port}" in message
    assert "wrong-pw" not in message
    assert origin.accepted == 0


async def test_pproxy_closes_on_missing_credentials_and_that_is_a_proxy_failure(
    pproxy_auth, origin
):
    with pytest.raises(ProxyFailed, match=r"proxy socks5h://127\.0\.0\.1:\d+ closed"):
        await through_real(pproxy_auth, "socks5h", "localhost", origin)
    assert origin.accepted == 0


@pytest.mark.parametrize(
    ("scheme", "host"),
    [
        ("socks4", "127.0.0.1"),
        ("socks4", "localhost"),
        ("socks5", "127.0.0.1"),
        ("socks5", "localhost"),
        ("socks5h", "localhost"),
    ],
)
async def test_dante_tunnel_carries_http_to_the_origin(dante, origin, scheme, host):
    assert await through_real(dante, scheme, host, origin) == ORIGIN_ANSWER


async def test_dante_refuses_a_socks4a_name_and_says_so(dante, origin):
    # Dante speaks SOCKS4 but not the 4a extension: a name is refused (0x5B).
    with pytest.raises(ProxyFailed) as caught:
        await through_real(dante, "socks4a", "localhost", origin)
    assert str(caught.value) == (
        f"proxy socks4a://127.0.0.1:{dante.port} refused the connection to "
        f"localhost:{origin.port}: request rejected or failed (SOCKS4 reply 0x5B)"
    )
    assert origin.accepted == 0


async def test_dante_reports_a_closed_port_as_connection_refused(dante):
    port = socks_servers.free_port()  # nobody listens there
    with pytest.raises(ProxyFailed) as caught:
        stream = backend.Stream(await connect_tcp(LOOPBACK, dante.port))
        try:
            await open_socks_tunnel(stream, Proxy(dante.url("socks5")), LOOPBACK, port, 5.0)
        finally:
            await stream.close()
    assert str(caught.value) == (
        f"proxy socks5://127.0.0.1:{dante.port} refused the connection to 127.0.0.1:{port}: "
        "connection refused (SOCKS5 reply 0x05)"
    )


async def test_dante_socks4_refusal_of_a_closed_port(dante):
    port = socks_servers.free_port()
    with pytest.raises(ProxyFailed, match=r"request rejected or failed \(SOCKS4 reply 0x5B\)"):
        stream = backend.Stream(await connect_tcp(LOOPBACK, dante.port))
        try:
            await open_socks_tunnel(stream, Proxy(dante.url("socks4")), LOOPBACK, port, 5.0)
        finally:
            await stream.close()


@pytest.mark.parametrize(
    ("real", "scheme"), [("pproxy", "socks5h"), ("dante", "socks5"), ("dante", "socks4")]
)
async def test_tls_to_an_https_origin_inside_the_tunnel(
    pproxy, dante, raw_server, server_ssl_context, client_ssl_context, real, scheme
):
    proxy_server = {"pproxy": pproxy, "dante": dante}[real]
    handler = canned(ORIGIN_ANSWER, keep_alive=False)
    origin = await raw_server(handler, ssl_context=server_ssl_context)
    sock = await connect_tcp(LOOPBACK, proxy_server.port)
    stream = backend.Stream(sock)
    try:
        host = "localhost" if scheme == "socks5h" else LOOPBACK
        await open_socks_tunnel(stream, Proxy(proxy_server.url(scheme)), host, origin.port, 5.0)
        # What the dialler does next for https: TLS over the same socket,
        # verifying the origin's certificate and name.
        tls = backend.Stream(await backend.start_tls(sock, client_ssl_context, host))
    except BaseException:
        await stream.close()
        raise
    try:
        assert tls.tls is not None
        assert await get(tls, f"{host}:{origin.port}") == ORIGIN_ANSWER
    finally:
        await tls.close()


@pytest.mark.parametrize(("real", "scheme"), [("pproxy", "socks5h"), ("dante", "socks4")])
async def test_a_real_origin_behind_a_real_proxy_sees_the_request(
    pproxy, dante, nginx, real, scheme
):
    proxy_server = {"pproxy": pproxy, "dante": dante}[real]
    port = nginx.port("http")
    stream = backend.Stream(await connect_tcp(LOOPBACK, proxy_server.port))
    try:
        await open_socks_tunnel(stream, Proxy(proxy_server.url(scheme)), "localhost", port, 5.0)
        await stream.send(
            f"GET /echo/socks-{real} HTTP/1.1\r\nHost: localhost:{port}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := await stream.receive():
            answer += chunk
    finally:
        await stream.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(f"\r\n\r\nGET localhost:{port} /echo/socks-{real}\n".encode())
