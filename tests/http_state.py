"""The http-state cookie conformance cases (tests/data/http-state), and runners.

The data is the IETF http-state working group's test suite (see
tests/data/http-state/README.md). Each case ``NAME`` is a ``NAME-test`` file
of response headers (``Set-Cookie`` lines, perhaps a ``Location``) and a
``NAME-expected`` file with the one ``Cookie`` header the client must send
next (or none). The protocol, as the suite's own server runs it:

1. ``GET http://home.example.org:8888/cookie-parser?NAME`` answers 302 with
   the test file's headers, and ``Location: /cookie-parser-result?NAME``
   when the file names none;
2. the client follows the redirect; the ``Cookie`` header of that request
   must equal the expected one exactly (absent when none is expected).

Every host of the suite (``*.example.org``) resolves to 127.0.0.1 here; port
8888 in a ``Location`` becomes the test server's port.

``python -m tests.http_state`` scores asks, the standard library's
``http.cookiejar`` as requests drives it, aiohttp's ``CookieJar`` and curl,
each against a real local server, for the ones installed.
"""

from __future__ import annotations

import re
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

DATA = Path(__file__).parent / "data" / "http-state" / "parser"
ORIGIN = "http://home.example.org:8888/cookie-parser?"
RESULT = "/cookie-parser-result?"
HOSTS = frozenset(
    {
        "example.org",
        "home.example.org",
        "sibling.example.org",
        "subdomain.home.example.org",
        "sibling.home.example.org",
    }
)
# A header line of a test file: a name, a colon, the value after any spaces
# (the suite's server reads them this way).
_LINE = re.compile(rb"(\S+):\s*(.*)")


@dataclass(frozen=True)
class Case:
    name: str
    headers: tuple[tuple[str, str], ...]  # the 302's headers, Location included
    expected: str | None

    @property
    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    @property
    def origin(self) -> str:
        return ORIGIN + self.name

    @property
    def target(self) -> str:
        for k, v in self.headers:
            if k.lower() == "location":
                return urljoin(self.origin, v)
        return urljoin(self.origin, RESULT + self.name)


def _header_lines(data: bytes) -> list[tuple[str, str]]:
    out = []
    for line in data.split(b"\n"):
        m = _LINE.match(line)
        if m:
            # Latin-1 keeps every byte (the charset cases are UTF-8 bytes).
            out.append((m[1].decode("latin-1"), m[2].decode("latin-1")))
    return out


def load_cases(include_disabled: bool = False) -> list[Case]:
    """Every case of the suite, sorted by name (the "disabled-" ones on request)."""
    cases = []
    for test in sorted(DATA.glob("*-test")):
        name = test.name.removesuffix("-test")
        if name.startswith("disabled-") and not include_disabled:
            continue
        expected_lines = [
            v for k, v in _header_lines((DATA / f"{name}-expected").read_bytes()) if k == "Cookie"
        ]
        # The suite's server takes the expectation only when it is one line.
        expected = expected_lines[0] if len(expected_lines) == 1 else None
        cases.append(Case(name, tuple(_header_lines(test.read_bytes())), expected))
    return cases


def answer(target: str, cookie: str | None, port: int) -> tuple[bytes, str | None]:
    """The server side: the response bytes for a request, and the case it ends.

    Args:
        target: the request-target (``/cookie-parser?NAME`` or the result).
        cookie: the request's ``Cookie`` header, if any.
        port: the server's port, put in place of 8888 in a Location.

    Returns:
        The whole response, and the case's name when *target* is its result.
    """
    path, _, name = target.partition("?")
    if path == "/cookie-parser" and (DATA / f"{name}-test").is_file():
        head = [b"HTTP/1.1 302 Found"]
        located = False
        for line in (DATA / f"{name}-test").read_bytes().split(b"\n"):
            m = _LINE.match(line)
            if not m:
                continue
            value = m[2]
            if m[1].lower() == b"location":
                located = True
                value = value.replace(b":8888/", b":%d/" % port)
            head.append(m[1] + b": " + value)
        if not located:
            head.append(b"Location: " + RESULT.encode() + name.encode())
        head.append(b"Content-Length: 0")
        return b"\r\n".join(head) + b"\r\n\r\n", None
    if path.startswith("/cookie-parser-result"):
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", name
    return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", None


def local_url(url: str, port: int) -> str:
    """*url* with port 8888 replaced by the test server's."""
    return url.replace(":8888/", f":{port}/", 1)


# -- a threaded server for the clients that are not curio (the script) --------


class ThreadedServer:
    """The suite's server on 127.0.0.1, port 0, in threads; records results."""

    def __init__(self) -> None:
        self.results: dict[str, str | None] = {}
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    line = self.rfile.readline()
                    if not line.strip():
                        return
                    target = line.split()[1].decode("latin-1")
                    cookie = None
                    while (h := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                        k, _, v = h.decode("latin-1").partition(":")
                        if k.strip().lower() == "cookie":
                            v = v.strip()
                            cookie = v if cookie is None else cookie + "; " + v
                    data, done = answer(target, cookie, outer.port)
                    if done is not None:
                        outer.results[done] = cookie
                    self.wfile.write(data)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- clients -------------------------------------------------------------------


def run_asks_pure(case: Case) -> str | None:
    """asks' CookieTracker fed the case's headers directly (no socket)."""
    from asks._headers import Headers
    from asks.cookie_utils import CookieTracker

    tracker = CookieTracker()
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in case.headers]
    tracker.store(Headers.from_raw(raw), case.origin, "home.example.org", "http")
    target = urlsplit(case.target)
    assert target.hostname is not None
    return tracker.cookie_header(case.target, target.hostname, target.scheme)


def _patch_getaddrinfo() -> None:
    # Every host of the suite is this machine (the suite's own hosts file).
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(host, bytes):
            host = host.decode()
        if host in HOSTS:
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = fake


def score_asks(server: ThreadedServer, cases: list[Case]) -> None:
    import curio

    import asks

    async def main() -> None:
        for case in cases:
            async with asks.Session(persist_cookies=True) as s:
                await s.get(local_url(case.origin, server.port))

    curio.run(main)


def score_requests(server: ThreadedServer, cases: list[Case]) -> None:
    import requests

    for case in cases:
        with requests.Session() as s:
            s.get(local_url(case.origin, server.port))


def score_aiohttp(server: ThreadedServer, cases: list[Case]) -> None:
    import asyncio

    import aiohttp

    async def main() -> None:
        for case in cases:
            async with (
                aiohttp.ClientSession() as s,
                s.get(local_url(case.origin, server.port)) as r,
            ):
                await r.read()

    asyncio.run(main())


def score_curl(server: ThreadedServer, cases: list[Case]) -> None:
    resolve = []
    for host in sorted(HOSTS):
        resolve += ["--resolve", f"{host}:{server.port}:127.0.0.1"]
    for case in cases:
        # -c /dev/null turns curl's cookie engine on, as the suite runs it.
        subprocess.run(
            [
                "curl",
                "-L",
                "-s",
                "-o",
                "/dev/null",
                "-c",
                "/dev/null",
                *resolve,
                local_url(case.origin, server.port),
            ],
            check=False,
        )


CLIENTS: dict[str, Callable[[ThreadedServer, list[Case]], None]] = {
    "asks": score_asks,
    "requests": score_requests,
    "aiohttp": score_aiohttp,
    "curl": score_curl,
}


def failures(results: dict[str, str | None], cases: list[Case]) -> Iterator[Case]:
    for case in cases:
        if case.name not in results or results[case.name] != case.expected:
            yield case


def main(argv: list[str]) -> int:
    _patch_getaddrinfo()
    cases = load_cases()
    verbose = "-v" in argv
    names = [a for a in argv if not a.startswith("-")] or list(CLIENTS)
    for name in names:
        with ThreadedServer() as server:
            try:
                CLIENTS[name](server, cases)
            except ImportError as exc:
                print(f"{name}: not installed ({exc})")
                continue
            failed = list(failures(server.results, cases))
        print(f"{name}: {len(cases) - len(failed)}/{len(cases)} passed")
        if verbose:
            for case in failed:
                print(
                    f"  {case.name}: sent {server.results.get(case.name)!r}, "
                    f"expected {case.expected!r}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
