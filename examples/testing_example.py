"""Testing your own asks code with asks.testing.MockServer - no network needed.

    python examples/testing_example.py      # runs the check, prints OK

The "application" is ``fetch_user_names``: it asks a JSON API for users and
returns their names, retrying once when the service is briefly unavailable.
``check`` is how you would test it: a MockServer stands in for the API, and
the test asserts both on what the function returned and on the requests it
sent. In a pytest suite with a curio plugin, ``check`` would be an
``async def test_...`` function.
"""

from __future__ import annotations

import curio

import asks
from asks.testing import MockServer, Reply, Request

# --------------------------------------------------------------------------
# The application code under test


async def fetch_user_names(session: asks.Session, ids: list[int]) -> list[str]:
    """The names of the users ``ids``, in order; ``"?"`` for unknown ones."""
    names = []
    for user_id in ids:
        r = await session.get(path=f"/users/{user_id}", params={"fields": "name"})
        if r.status_code == 503:  # the service asks us to come back: once
            r = await session.get(path=f"/users/{user_id}", params={"fields": "name"})
        if r.status_code == 404:
            names.append("?")
            continue
        r.raise_for_status()
        names.append(r.json()["name"])
    return names


# --------------------------------------------------------------------------
# Its test


async def check() -> None:
    async def user_3(request: Request) -> Reply:
        # A handler sees the request and builds the answer.
        assert request.query == {"fields": ["name"]}
        return Reply.json({"id": 3, "name": "Grace"})

    async with MockServer() as server:
        server.add("GET", "/users/1", Reply.json({"id": 1, "name": "Ada"}))
        # One reply per call: first unavailable, then fine.
        server.add("GET", "/users/2", [Reply(status=503), Reply.json({"id": 2, "name": "Alan"})])
        server.add("GET", "/users/3", user_3)
        # /users/4 has no route: the server answers 404.

        async with asks.Session(server.url, connections=1) as session:
            names = await fetch_user_names(session, [1, 2, 3, 4])

        assert names == ["Ada", "Alan", "Grace", "?"], names
        assert server.calls("GET", "/users/2") == 2  # the retry happened
        assert [r.path for r in server.requests] == [
            "/users/1",
            "/users/2",
            "/users/2",
            "/users/3",
            "/users/4",
        ]
        assert all(r.query == {"fields": ["name"]} for r in server.requests)
        assert server.connections == 1  # one keep-alive connection for all five


if __name__ == "__main__":
    curio.run(check)
    print("OK")
