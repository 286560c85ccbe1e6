"""Servers on several loopback addresses: distinct hosts on one machine.

Linux routes all of 127.0.0.0/8 to ``lo`` with no set-up, so 127.0.0.1,
127.0.0.2, ... are as many hosts to anything that keys on the host name
(the partition of a bulk fetch, per-host limits), each with a port of its
own picked by the kernel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import curio
import curio.io

from tests.servers import RawServer


class Hosts:
    """One server per host, all with the same handler; closed by ``aclose``."""

    def __init__(self, count: int) -> None:
        self.names = [f"127.0.0.{i + 1}" for i in range(count)]
        self.servers: list[RawServer] = []

    async def start(self, handler: Callable[[curio.io.Socket], Awaitable[None]]) -> Hosts:
        for name in self.names:
            self.servers.append(await RawServer(handler, host=name).start())
        return self

    def urls(self, per_host: int, path: str = "/page") -> list[str]:
        """*per_host* URLs on every host, the hosts interleaved as a crawl list is."""
        return [f"{server.url}{path}/{n}" for n in range(per_host) for server in self.servers]

    async def aclose(self) -> None:
        for server in self.servers:
            await server.aclose()
        for server in self.servers:
            assert server.unexpected_errors() == []
