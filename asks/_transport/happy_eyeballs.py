"""Placeholder: sequential dialling until the Happy Eyeballs module lands."""

from __future__ import annotations

import curio.io

from . import backend


async def connect_tcp(
    host: str, port: int, *, source_address: tuple[str, int] | None = None
) -> curio.io.Socket:
    infos = await backend.resolve(host, port)
    if not infos:
        raise OSError(f"no address found for {host!r}")
    last: OSError | None = None
    for info in infos:
        try:
            return await backend.connect_address(info, source_address)
        except OSError as exc:
            last = exc
    assert last is not None
    raise last
