"""``-v``/``--verbose``: what the request did, step by step, on stderr (as ``curl -v``).

Three kinds of line, as curl writes them:

- ``* ...``: a step of the connection (TCP, TLS, its reuse), from the
  session's tracer (``Session(trace=...)``, see docs/hooks.md);
- ``> ...``: the request head as it was sent, from the request hook;
- ``< ...``: each response head (redirects and challenges included), from
  the response hook.

A request head is shown once its connection is ready (the request hook runs
before the dial, the tracer's ``request.start`` after it), so the lines come
in the order things happened. HTTP/2 connections are not traced: their
request head is shown with the response.

Credentials are not shown: the value of ``Authorization`` and
``Proxy-Authorization`` is cut after its scheme (``Basic <hidden>``), as a
terminal or a CI log may be read by others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from rich.console import Console

    from .._hooks import Request
    from ..response_objects import BaseResponse

__all__ = ["Verbose"]

_SECRET = frozenset({b"authorization", b"proxy-authorization"})


class Verbose:
    """The tracer and the hooks of ``-v``, writing to one console.

    Args:
        console: where the lines go (stderr).
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._pending: Request | None = None

    def session_kwargs(self) -> dict[str, Any]:
        """The ``Session`` keywords that make it tell: ``trace`` and ``event_hooks``."""
        return {
            "trace": self.trace,
            "event_hooks": {"request": [self.on_request], "response": [self.on_response]},
        }

    def _say(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False, emoji=False)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """The tracer: one ``*`` line per step of a connection."""
        number = info["connection"]
        say = self._say
        if event == "connect.start":
            if info.get("uds") is not None:
                say(f"* connecting to the Unix socket {info['uds']} (connection {number})")
            else:
                via = f" through proxy {info['proxy']}" if info.get("proxy") else ""
                say(
                    f"* connecting to {info['host']} port {info['port']}{via} "
                    f"(connection {number})"
                )
        elif event == "connect.done":
            say(f"* connected (connection {number})")
        elif event == "tls.start":
            offer = ", offering a kept session" if info["resuming"] else ""
            say(f"* TLS handshake with {info['server_hostname']}{offer}")
        elif event == "tls.done":
            resumed = ", session resumed" if info["resumed"] else ""
            say(f"* TLS done: {info['version']}, {info['cipher']}{resumed}")
        elif event == "connect.failed":
            say(f"* connecting failed: {info['error']}")
            self._pending = None  # never sent
        elif event == "request.start":
            if info["reused"]:
                say(f"* reusing connection {number}")
            self._show_request("HTTP/1.1")

    async def on_request(self, request: Request) -> None:
        """The request hook: the head waits for its connection (see the module)."""
        self._pending = request

    async def on_response(self, response: BaseResponse) -> None:
        """The response hook: the ``<`` lines of a head."""
        self._show_request("HTTP/2" if response.http_version == "2" else None)
        say = self._say
        status = f"< HTTP/{response.http_version} {response.status_code} {response.reason_phrase}"
        say(status.rstrip())  # (HTTP/2 has no reason phrase)
        for name, value in response.headers.multi_items():
            say(f"< {name}: {value}")
        say("<")

    def _show_request(self, version: str | None) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        say = self._say
        say(f"> {request.method} {target}" + (f" {version}" if version else ""))
        for name, value in request.raw_headers:
            say(f"> {name.decode('latin-1')}: {_shown(name, value)}")
        say(">")


def _shown(name: bytes, value: bytes) -> str:
    text = value.decode("latin-1")
    if name.lower() in _SECRET:
        scheme = text.partition(" ")[0]
        return f"{scheme} <hidden>" if scheme != text else "<hidden>"
    return text
