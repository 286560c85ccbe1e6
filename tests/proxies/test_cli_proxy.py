"""``--proxy`` and ``--no-env`` on the command line, driven in a subprocess."""

from __future__ import annotations

import functools
import os

import curio

from tests.hostile_helpers import OK
from tests.proxies.scripted import PROXY_AUTH_REQUIRED, ScriptedProxy
from tests.servers import canned
from tests.test_cli import CHILD_DEADLINE, run_asks

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline


async def arun(*args: str, env: dict[str, str] | None = None):
    return await curio.run_in_thread(functools.partial(run_asks, *args, env=env))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(extra)
    return env


async def test_proxy_option_sends_the_url_form_through_the_proxy(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    result = await arun(
        "--proxy", f"http://127.0.0.1:{proxy_server.port}", f"{origin.url}/x", env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ok"
    assert [t for _, t, _ in proxy.seen] == [f"{origin.url}/x"]


async def test_proxy_option_works_on_every_command(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    via = f"http://127.0.0.1:{proxy_server.port}"
    for args in (["head", origin.url], ["request", "GET", origin.url], ["fetch", "-"]):
        if args[0] == "fetch":
            result = await curio.run_in_thread(
                functools.partial(
                    run_asks,
                    "fetch",
                    "--proxy",
                    via,
                    "--quiet",
                    "-",
                    input=f"{origin.url}/f\n".encode(),
                    env=clean_env(),
                )
            )
        else:
            result = await arun(*args[:1], "--proxy", via, *args[1:], env=clean_env())
        assert result.returncode == 0, (args, result.stderr)
    assert len(proxy.seen) == 3


async def test_cli_never_prints_proxy_credentials(raw_server):
    proxy_server = await raw_server(ScriptedProxy(forward_answer=PROXY_AUTH_REQUIRED))
    result = await arun(
        "-i",
        "--proxy",
        f"http://user:s3cret@127.0.0.1:{proxy_server.port}",
        "http://127.0.0.1:1/",
        env=clean_env(),
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert b"s3cret" not in output and b"user:" not in output
    assert f"proxy http://127.0.0.1:{proxy_server.port}".encode() in result.stderr


async def test_a_bad_proxy_is_a_usage_error_without_its_password():
    result = await arun(
        "--proxy", "ftp://user:s3cret@host:1", "http://127.0.0.1:1/", env=clean_env()
    )
    assert result.returncode == 2
    assert b"unsupported proxy scheme" in result.stderr and b"s3cret" not in result.stderr


async def test_no_env_ignores_the_proxy_environment(raw_server):
    origin = await raw_server(canned(OK))
    proxy = ScriptedProxy()
    proxy_server = await raw_server(proxy)
    env = clean_env(http_proxy=f"http://127.0.0.1:{proxy_server.port}")
    through = await arun(origin.url, env=env)
    direct = await arun("--no-env", origin.url, env=env)
    assert (through.returncode, direct.returncode) == (0, 0)
    assert len(proxy.seen) == 1


async def test_a_bad_proxy_in_the_environment_is_a_usage_error_naming_the_variable():
    env = clean_env(https_proxy="ftp://user:s3cret@host:1")
    result = await arun("https://127.0.0.1:1/", env=env)
    assert result.returncode == 2
    assert b"$https_proxy" in result.stderr and b"s3cret" not in result.stderr
    assert (
        await arun("--no-env", "--retries", "0", "http://127.0.0.1:1/", env=env)
    ).returncode != 2
