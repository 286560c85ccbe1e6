"""SOCKS servers for the tests: a scripted one in the test's kernel, and real ones.

    script = SocksScript([(3, b"\\x05\\x00"), (10, SOCKS5_GRANTED)], then="http")
    server = await raw_server(script)       # tests.fixtures' raw_server
    script.received                         # what the client sent, step by step

    with Pproxy() as proxy: proxy.port       # pproxy -l socks4+socks5://127.0.0.1:0
    with Pproxy(auth=("user", "pass")): ...  # SOCKS5 username/password, --auth 0
    with Dante(directory) as proxy: ...      # danted, SOCKS4 and SOCKS5, no auth

The real proxies run as child processes started and stopped by their PID
(tests/real/process.py), on 127.0.0.1 with a free port, so the test process
owns only the client side of their connections and the descriptor check stays
exact. The fixtures at the end of this module are session-scoped; test
modules bind them under their own names (``pproxy_socks = socks_servers.pproxy``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import curio
import curio.io
import pytest

from tests.hostile_helpers import reset_on_close
from tests.real.process import (
    LOOPBACK,
    Running,
    ServerProcess,
    free_port,
    require_binary,
    start_on_free_ports,
)
from tests.servers import read_request

# A SOCKS5 success reply binding 0.0.0.0:0 (RFC 1928 section 6), and SOCKS4's
# "request granted" (VN 0, CD 0x5A, port and address ignored by clients).
SOCKS5_GRANTED = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
SOCKS4_GRANTED = b"\x00\x5a\x00\x00\x00\x00\x00\x00"

ORIGIN_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\norigin"

Then = Literal["http", "hold", "close", "reset"]


@dataclass
class SocksScript:
    """A scripted SOCKS server: read exactly so many bytes, answer these, repeat.

    Args:
        steps: ``(size, answer)`` pairs: the server reads exactly *size*
            bytes (recorded in :attr:`received`), then writes *answer*.
        then: after the last step: ``"http"`` answers one HTTP request as the
            origin would (:data:`ORIGIN_ANSWER`), ``"hold"`` keeps the
            connection open until the client closes it, ``"close"`` closes,
            ``"reset"`` closes with a TCP RST.
        byte_by_byte: write each answer one byte per send.
    """

    steps: Sequence[tuple[int, bytes]]
    then: Then = "hold"
    byte_by_byte: bool = False
    received: list[bytes] = field(default_factory=list)
    # The HTTP request the origin part of the script received, if any.
    origin_request: bytes | None = None
    finished: curio.Event = field(default_factory=curio.Event)
    _changed: curio.Event = field(default_factory=curio.Event)

    async def wait_received(self, count: int) -> None:
        """Wait until the server has read *count* steps (the test's deadline bounds it)."""
        while len(self.received) < count:
            await self._changed.wait()

    async def __call__(self, sock: curio.io.Socket) -> None:
        try:
            for size, answer in self.steps:
                data = await _read_exactly(sock, size)
                if data:
                    self.received.append(data)
                    changed, self._changed = self._changed, curio.Event()
                    await changed.set()
                if len(data) < size:
                    return  # the client closed: nothing more to script
                await self._write(sock, answer)
            if self.then == "http":
                received = await read_request(sock)
                if received is not None:
                    request, _body = received
                    self.origin_request = request.method + b" " + request.target
                    await sock.sendall(ORIGIN_ANSWER)
            elif self.then == "reset":
                reset_on_close(sock)
            elif self.then == "hold":
                while await sock.recv(65536):
                    pass
        finally:
            await self.finished.set()

    async def _write(self, sock: curio.io.Socket, answer: bytes) -> None:
        if not self.byte_by_byte:
            await sock.sendall(answer)
            return
        for i in range(len(answer)):
            await sock.sendall(answer[i : i + 1])
            await curio.sleep(0)  # let the client run between the bytes


async def _read_exactly(sock: curio.io.Socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


# -- real proxies ------------------------------------------------------------------

# pproxy prints "Serving on ..." to stdout, block-buffered when it is a pipe; the
# launcher makes stdout its stderr, unbuffered, so ServerProcess reads it.
_PPROXY_LAUNCHER = (
    "import os, sys; os.dup2(2, 1); sys.argv[0] = 'pproxy'; "
    "from pproxy.server import main; sys.exit(main())"
)


class Pproxy(Running):
    """pproxy (PyPI) serving SOCKS4 and SOCKS5 on 127.0.0.1, port chosen by itself.

    Args:
        log_path: where its output goes.
        auth: ``(user, password)``: SOCKS5 only, username/password required
            on every connection (``--auth 0``: without it pproxy remembers a
            login per client address).
    """

    def __init__(self, log_path: Path, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        protocols = "socks5" if auth is not None else "socks4+socks5"
        listen = f"{protocols}://{LOOPBACK}:0"
        args = [sys.executable, "-u", "-c", _PPROXY_LAUNCHER]
        if auth is not None:
            listen += f"#{auth[0]}:{auth[1]}"
            args += ["--auth", "0"]
        args += ["-l", listen]
        self._process = ServerProcess(
            args, log_path=log_path, ready=r"Serving on \S* ?127\.0\.0\.1:(\d+) by"
        )
        self.port = 0

    def start(self) -> Pproxy:
        self._process.start()
        assert self._process.ready_match is not None
        self.port = int(self._process.ready_match.group(1))
        return self

    def stop(self) -> None:
        self._process.stop()

    def url(self, scheme: str) -> str:
        """``scheme://127.0.0.1:PORT`` (credentials are the test's to add)."""
        return f"{scheme}://{LOOPBACK}:{self.port}"


DANTE_HINT = "apt-get install -y --no-install-recommends dante-server"


class Dante(Running):
    """danted (Debian ``dante-server``): SOCKS4 and SOCKS5 without authentication.

    It cannot bind port 0 and report it, so a free port is picked and a start
    that loses it is retried with another. Clients and destinations are
    loopback only.

    Args:
        directory: a private directory for its configuration and log.
        start_attempts: starts tried with fresh ports when a port is taken.
    """

    def __init__(self, directory: Path, *, start_attempts: int = 5) -> None:
        self.directory = directory
        self.port = 0
        self._attempts = start_attempts
        self._process: ServerProcess | None = None

    def render(self) -> str:
        # As root, danted drops to these users for its children; as another
        # user it stays that user (these lines are then not needed).
        return "\n".join(
            [
                "logoutput: stderr",
                f"internal: {LOOPBACK} port = {self.port}",
                f"external: {LOOPBACK}",
                "clientmethod: none",
                "socksmethod: none",
                "user.privileged: root",
                "user.unprivileged: nobody",
                "client pass {",
                "  from: 127.0.0.0/8 to: 0.0.0.0/0",
                "}",
                "socks pass {",
                "  from: 127.0.0.0/8 to: 127.0.0.0/8",
                "  command: connect",
                "}",
                "",
            ]
        )

    def start(self) -> Dante:
        binary = require_binary("danted", DANTE_HINT)
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "danted.conf"

        def make() -> ServerProcess:
            self.port = free_port()
            conf.write_text(self.render())
            return ServerProcess(
                [binary, "-f", str(conf), "-N", "1", "-p", str(self.directory / "danted.pid")],
                log_path=self.directory / "danted.log",
                ready=r"info: Dante/server\S* v[\d.]+ running",
                failed=r"\b(error|alert):",
                cwd=self.directory,
            )

        self._process = start_on_free_ports(make, self._attempts)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()

    def url(self, scheme: str) -> str:
        return f"{scheme}://{LOOPBACK}:{self.port}"


# -- fixtures ------------------------------------------------------------------------

PPROXY_USER = ("socks-user", "s3cret:pass")


@pytest.fixture(scope="session", name="pproxy")
def pproxy_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pproxy]:
    """pproxy: SOCKS4 and SOCKS5 without authentication."""
    with Pproxy(tmp_path_factory.mktemp("pproxy") / "pproxy.log") as proxy:
        yield proxy


@pytest.fixture(scope="session", name="pproxy_auth")
def pproxy_auth_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pproxy]:
    """pproxy: SOCKS5 with username/password :data:`PPROXY_USER`."""
    with Pproxy(tmp_path_factory.mktemp("pproxy-auth") / "pproxy.log", PPROXY_USER) as proxy:
        yield proxy


@pytest.fixture(scope="session", name="dante")
def dante_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dante]:
    """danted: SOCKS4 and SOCKS5 without authentication."""
    with Dante(tmp_path_factory.mktemp("dante")) as proxy:
        yield proxy
