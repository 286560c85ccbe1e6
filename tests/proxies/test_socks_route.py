"""The SOCKS route around the handshake: TCP to the proxy, the handshake, then TLS.

The SOCKS handshake itself is ``asks/_transport/socks.py``'s (its own tests
cover it); here a stand-in handshake ("TO host:port" / "OK") shows what the
route does around it: which stream it gets, the name it is given (not
resolved here, for socks4/socks5 as for the ``h`` forms), TLS to the origin
afterwards, and one tunnel per origin in the pool.
"""

from __future__ import annotations

import curio
import pytest

import asks
from asks._transport import connect
from asks._transport.interfaces import ProxyFailed
from asks.errors import ProxyError
from tests.hostile_helpers import OK, assert_released
from tests.proxies.scripted import _pipe
from tests.servers import canned


class StandInSocks:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, sock) -> None:
        line = b""
        while not line.endswith(b"\n"):
            chunk = await sock.recv(1)
            if not chunk:
                return
            line += chunk
        target = line.decode().removeprefix("TO ").strip()
        self.asked.append(target)
        if target.startswith("refused."):
            await sock.sendall(b"NO\n")
            return
        port = target.rpartition(":")[2]  # every origin here is on 127.0.0.1
        upstream = await curio.open_connection("127.0.0.1", int(port))
        async with upstream:
            await sock.sendall(b"OK\n")
            async with curio.TaskGroup() as pipes:
                await pipes.spawn(_pipe, sock, upstream)
                await pipes.spawn(_pipe, upstream, sock)
                await pipes.next_done()
                await pipes.cancel_remaining()


@pytest.fixture
def stand_in_handshake(monkeypatch):
    calls = []

    async def handshake(stream, proxy, host, port, timeout):
        calls.append((proxy.url, host, port))
        await stream.send(f"TO {host}:{port}\n".encode())
        if await stream.receive(3) != b"OK\n":
            raise ProxyFailed(f"{proxy.url}: refused")

    monkeypatch.setattr(connect, "open_socks_tunnel", handshake)
    return calls


@pytest.mark.parametrize("scheme", ["socks4", "socks4a", "socks5", "socks5h"])
async def test_socks_route_tunnels_http_and_https_with_the_host_name_unresolved(
    raw_server, server_ssl_context, client_ssl_context, stand_in_handshake, scheme
):
    plain_handler = canned(OK)
    plain = await raw_server(plain_handler)
    tls_handler = canned(OK)
    tls = await raw_server(tls_handler, ssl_context=server_ssl_context)
    socks = StandInSocks()
    socks_server = await raw_server(socks)
    url = f"{scheme}://user:pw@127.0.0.1:{socks_server.port}"
    async with asks.Session(proxy=url, ssl_context=client_ssl_context, connections=4) as s:
        first = await s.get(f"http://localhost:{plain.port}/p")
        second = await s.get(f"https://localhost:{tls.port}/t")
        again = await s.get(f"https://localhost:{tls.port}/t")
        assert s.pool_stats().open == 2  # one tunnel per origin, reused
    assert (first.text, second.text, again.text) == ("ok", "ok", "ok")
    # The name goes to the handshake as it is; resolving is its business.
    assert socks.asked == [f"localhost:{plain.port}", f"localhost:{tls.port}"]
    assert [c[0] for c in stand_in_handshake] == [f"{scheme}://127.0.0.1:{socks_server.port}"] * 2
    # http:// through SOCKS is tunnelled, so the target stays in origin form.
    assert plain_handler.requests[0][0].target == b"/p"
    assert tls_handler.requests[0][0].target == b"/t"


async def test_socks_refusal_is_a_proxy_error_and_closes_the_connection(
    raw_server, stand_in_handshake
):
    socks_server = await raw_server(StandInSocks())
    async with asks.Session(proxy=f"socks5h://127.0.0.1:{socks_server.port}") as s:
        with pytest.raises(ProxyError, match="refused"):
            await s.get("http://refused.test/")
        assert_released(s)
    await socks_server.wait_open_connections(0)


async def test_a_proxy_that_never_answers_connect_is_a_timeout_naming_the_proxy(raw_server):
    never = curio.Event()

    async def silent(sock):
        await never.wait()

    proxy_server = await raw_server(silent)
    async with asks.Session(proxy=f"http://127.0.0.1:{proxy_server.port}") as s:
        with pytest.raises(asks.errors.RequestTimeout) as caught:
            await s.get("https://origin.test/", connection_timeout=0.05, retries=0)
        assert_released(s)
    assert f"through proxy http://127.0.0.1:{proxy_server.port}" in str(caught.value)
