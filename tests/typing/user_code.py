"""User code as ``mypy --strict`` sees it (checked by tests/test_typing.py).

A line whose trailing comment is ``R`` and a type must have mypy reveal that
type there (``asks.response_objects.`` left out); a line whose comment is
``E`` and a text must be a mypy error containing that text. Every other line
must pass. This file is never run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asks
from asks.testing import MockServer

if TYPE_CHECKING:
    from typing_extensions import reveal_type


async def session_calls(url: str, flag: bool) -> None:
    async with asks.Session() as s:
        reveal_type(await s.get(url, stream=True))  # R: StreamResponse
        reveal_type(await s.get(url))  # R: Response
        reveal_type(await s.get(url, stream=False))  # R: Response
        reveal_type(await s.get(url, stream=flag))  # R: BaseResponse
        reveal_type(await s.post(url, json={"a": 1}, timeout=5))  # R: Response
        reveal_type(await s.request("PUT", url, data=b"x", stream=True))  # R: StreamResponse
        reveal_type(await s.head(path="/x", retries=0))  # R: Response
        r = await s.get(url, params={"q": "a"}, headers={"X": "1"}, auth=("u", "p"))
        reveal_type(r.json())  # R: Any
        await s.get(url, strem=True)  # E: Unexpected keyword argument "strem"
        await s.get(url, timeout="5")  # E: "get" of "Session" matches argument types "str", "str"
        await s.get(url, ssl_context=None)  # E: Unexpected keyword argument "ssl_context"
        await s.delete(url, max_redirects=None)  # E: matches argument types "str", "None"


async def one_shot_calls(url: str) -> None:
    reveal_type(await asks.get(url, stream=True))  # R: StreamResponse
    reveal_type(await asks.get(url, ssl_context=None, retries=2))  # R: Response
    reveal_type(await asks.request("PATCH", url, json=[]))  # R: Response
    await asks.get(url, persist_cokies=True)  # E: Unexpected keyword argument "persist_cokies"
    await asks.post(url, path="/x")  # E: Unexpected keyword argument "path"


async def stream_views(url: str) -> None:
    r = await asks.get(url, stream=True)
    async for text in r.body(timeout=5).text("utf-8"):
        reveal_type(text)  # R: str
    async for line in r.body.lines(max_length=1024):
        reveal_type(line)  # R: str
    async for raw in r.body.byte_lines():
        reveal_type(raw)  # R: bytes
    async for chunk in r.body.chunks(4096):
        reveal_type(chunk)  # R: bytes
    r.body.chunks("4096")  # E: incompatible type "str"; expected "int"


async def mock_server() -> None:
    async with MockServer() as server:
        reveal_type(server.url)  # R: str


async def bulk_fetch(urls: list[str]) -> None:
    async with asks.fetch_many(urls, concurrency=5, robots=True) as results:
        reveal_type(results)  # R: asks.crawl.FetchResults
        async for result in results:
            reveal_type(result)  # R: asks.crawl.FetchResult
            reveal_type(result.status)  # R: int | None
            reveal_type(result.as_json())  # R: str
    asks.fetch_many(urls, concurrency="5")  # E: incompatible type "str"; expected "int"
