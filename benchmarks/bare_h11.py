"""The response loop of the benchmarks' bare clients: h11 over a curio socket, no asks.

``e2e.py``'s ceiling, ``h11_curio_crawl.py`` and ``concurrency_cost.py
--client bare`` all read a response this way, so the three measure the same
floor.
"""

from __future__ import annotations

from typing import Any

import h11


async def read_response(
    sock: Any, conn: h11.Connection, recv_size: int = 65536
) -> tuple[int, int]:
    """Read one whole response through h11; (status, body bytes).

    Raises:
        ConnectionError: the server closed the connection inside it.
    """
    status = 0
    received = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await sock.recv(recv_size))
            continue
        kind = type(event)
        if kind is h11.Data:
            received += len(event.data)  # type: ignore[union-attr]
        elif kind is h11.Response:
            status = event.status_code  # type: ignore[union-attr]
        elif kind is h11.EndOfMessage:
            return status, received
        elif kind is h11.ConnectionClosed:
            raise ConnectionError("server closed the connection")
