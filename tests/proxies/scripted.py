"""A proxy written with curio for the tests: forwards, tunnels, or misbehaves on purpose.

Run it as a ``raw_server`` handler (``ssl_context=`` makes it an https://
proxy). Every request head it receives is recorded in ``seen`` (method,
target, headers as a lower-cased dict), so a test can prove what reached
the proxy; an origin behind it (a ``canned`` raw server) records what
reached the origin.

* a forwarded request (absolute-form target) is relayed to the origin in
  origin form (without the proxy's own headers, as real proxies do) and the
  origin's answer relayed back; the connection to the proxy stays open for
  the next request, whatever its origin;
* ``CONNECT host:port`` is answered by ``connect_answer``: ``None`` (the
  default) opens the tunnel (``200``) and pipes bytes both ways; a bytes
  value is sent as it is (a ``407``, a ``502``, garbage) and the connection
  closed; ``b""`` closes without a word.
"""

from __future__ import annotations

import curio
import curio.io
import h11

from tests.servers import read_request

PROXY_AUTH_REQUIRED = (
    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
)


class ScriptedProxy:
    def __init__(
        self,
        *,
        connect_answer: bytes | None = None,
        forward_answer: bytes | None = None,
    ) -> None:
        self.connect_answer = connect_answer
        self.forward_answer = forward_answer
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0

    async def __call__(self, sock: curio.io.Socket) -> None:
        self.connections += 1
        while (received := await read_request(sock)) is not None:
            request, body = received
            headers = {k.decode().lower(): v.decode() for k, v in request.headers}
            method, target = request.method.decode(), request.target.decode()
            self.seen.append((method, target, headers))
            if method == "CONNECT":
                await self._tunnel(sock, target)
                return
            if self.forward_answer is not None:
                await sock.sendall(self.forward_answer)
                continue
            await self._forward(sock, request, body)

    async def _tunnel(self, sock: curio.io.Socket, target: str) -> None:
        if self.connect_answer is not None:
            if self.connect_answer:
                await sock.sendall(self.connect_answer)
            return
        host, _, port = target.rpartition(":")
        upstream = await curio.open_connection(host.strip("[]"), int(port))
        async with upstream:
            await sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            async with curio.TaskGroup() as pipes:
                await pipes.spawn(_pipe, sock, upstream)
                await pipes.spawn(_pipe, upstream, sock)
                await pipes.next_done()
                await pipes.cancel_remaining()

    async def _forward(self, sock: curio.io.Socket, request: h11.Request, body: bytes) -> None:
        target = request.target.decode()
        assert target.startswith("http://"), f"not an absolute-form target: {target}"
        authority, _, path = target[len("http://") :].partition("/")
        host, _, port = authority.rpartition(":")
        if not host:
            host, port = authority, "80"
        headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in (b"proxy-authorization", b"proxy-connection")
        ]
        upstream = await curio.open_connection(host, int(port))
        async with upstream:
            client = h11.Connection(h11.CLIENT)
            data = client.send(
                h11.Request(method=request.method, target=b"/" + path.encode(), headers=headers)
            )
            data += client.send(h11.Data(data=body)) if body else b""
            data += client.send(h11.EndOfMessage())
            await upstream.sendall(data)
            out = b""
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    chunk = await upstream.recv(65536)
                    client.receive_data(chunk)
                    out += chunk
                    continue
                if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            await sock.sendall(out)


async def _pipe(source: curio.io.Socket, sink: curio.io.Socket) -> None:
    try:
        while data := await source.recv(65536):
            await sink.sendall(data)
    except OSError:
        pass
